"""nk: authentication, session tokens and linked identities (kizuna/core/accounts.py,
kizuna/core/sessions.py)."""

from __future__ import annotations

from collections.abc import Mapping

from kizuna.core import accounts
from kizuna.errors import Code
from kizuna.runtime.errors import Error
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import AuthResult, TokenResult


class AuthNk(Area):

    # -- authentication --------------------------------------------------------------------------

    @api
    async def authenticate_device(self, device_id: str, username: str | None = None,
                                  create: bool = True) -> AuthResult:
        """Find (or, with `create`, create) the user of a device id.

        Errors:
            - 3 INVALID_ARGUMENT `Device ID is required.`
            - 3 INVALID_ARGUMENT `Device ID invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Device ID invalid, must be 10-128 bytes.`
            - 3 INVALID_ARGUMENT `Username invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Username invalid, must be 1-128 bytes.`
            - 5 NOT_FOUND `User account not found.` (`create` False and no user has this device)
            - 7 PERMISSION_DENIED `User account banned.`
            - 6 ALREADY_EXISTS `Username is already in use.` (creating, with a `username` someone has)

        Example:
            user_id, username, created = nk.authenticate_device("device-0123456789")
        """
        r = await accounts.authenticate_device(self._domain.pool, device_id, username or None,
                                               create)
        return AuthResult(r.user_id, r.username, r.created)

    @api
    async def authenticate_email(self, email: str, password: str, username: str | None = None,
                                 create: bool = True) -> AuthResult:
        """Find (or, with `create`, create) the user of an email address, checking the password.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid email address, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Invalid email address format.`
            - 3 INVALID_ARGUMENT `Invalid email address, must be 10-255 bytes.`
            - 3 INVALID_ARGUMENT `Password must be at least 8 characters long.`
            - 3 INVALID_ARGUMENT `Password must be at most 72 bytes long.`
            - 3 INVALID_ARGUMENT `Username is required when email address is not supplied.` (email "":
              a login by username and password)
            - 3 INVALID_ARGUMENT `Username invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Username invalid, must be 1-128 bytes.`
            - 5 NOT_FOUND `User account not found.` (`create` False, or no email and an unknown
              username)
            - 7 PERMISSION_DENIED `User account banned.`
            - 16 UNAUTHENTICATED `Invalid credentials.` (a wrong password)
            - 6 ALREADY_EXISTS `Username is already in use.` (creating, with a `username` someone has)

        Example:
            result = nk.authenticate_email("player@example.com", "s3cret-pass", create=False)
            logger.info("logged in %s", result.user_id)
        """
        r = await accounts.authenticate_email(self._domain.pool, email, password,
                                              username or None, create)
        return AuthResult(r.user_id, r.username, r.created)

    @api
    async def authenticate_custom(self, custom_id: str, username: str | None = None,
                                  create: bool = True) -> AuthResult:
        """Find (or, with `create`, create) the user of a custom id.

        Errors:
            - 3 INVALID_ARGUMENT `Custom ID is required.`
            - 3 INVALID_ARGUMENT `Custom ID invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Custom ID invalid, must be 6-128 bytes.`
            - 3 INVALID_ARGUMENT `Username invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Username invalid, must be 1-128 bytes.`
            - 5 NOT_FOUND `User account not found.` (`create` False and no user has this id)
            - 7 PERMISSION_DENIED `User account banned.`
            - 6 ALREADY_EXISTS `Username is already in use.` (creating, with a `username` someone has)

        Example:
            result = nk.authenticate_custom("steam-76561198000000000", username="hero")
        """
        r = await accounts.authenticate_custom(self._domain.pool, custom_id, username or None,
                                               create)
        return AuthResult(r.user_id, r.username, r.created)

    @api
    async def authenticate_token_generate(self, user_id: str, username: str | None = None,
                                          exp: int | None = None,
                                          vars: Mapping[str, str] | None = None) -> TokenResult:
        """A session token for a user (recorded, so it can be revoked like any other). `exp` is
        the expiry in unix seconds (default: now + session.token_expiry_sec).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `vars: expected a dict of strings.`
            - 5 NOT_FOUND `User account not found.`
            - 7 PERMISSION_DENIED `User account banned.` (when no `username` is given, the user's is
              looked up: the user must exist and not be banned)

        Example:
            token, exp = nk.authenticate_token_generate(ctx.user_id, vars={"role": "tester"})
        """
        domain = self._domain
        uid = args.user_id(user_id)
        if not username:
            username = await accounts.check_user_for_refresh(domain.pool, uid)
        if vars is not None and not all(isinstance(k, str) and isinstance(v, str)
                                        for k, v in vars.items()):
            raise Error("vars: expected a dict of strings.", Code.INVALID_ARGUMENT)
        issued = await domain.sessions.create(domain.pool, uid, username,
                                              dict(vars) if vars else None,
                                              expires_at=int(exp) if exp else None)
        return TokenResult(issued.token, issued.expires_at)

    # -- links -----------------------------------------------------------------------------------

    @api
    async def link_device(self, user_id: str, device_id: str) -> None:
        """Link a device id to a user.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Device ID is required.`
            - 3 INVALID_ARGUMENT `Device ID invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Device ID invalid, must be 10-128 bytes.`
            - 6 ALREADY_EXISTS `Device ID already in use.` (another user's)
            - 5 NOT_FOUND `User account not found.`

        Example:
            nk.link_device(ctx.user_id, "device-0123456789")
        """
        await accounts.link_device(self._domain.pool, args.user_id(user_id), device_id)

    @api
    async def link_custom(self, user_id: str, custom_id: str) -> None:
        """Set a user's custom id.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Custom ID is required.`
            - 3 INVALID_ARGUMENT `Invalid custom ID, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Invalid custom ID, must be 6-128 bytes.`
            - 6 ALREADY_EXISTS `Custom ID is already in use.` (another user's; also when the user does
              not exist, as in Nakama)

        Example:
            nk.link_custom(ctx.user_id, "steam-76561198000000000")
        """
        await accounts.link_custom(self._domain.pool, args.user_id(user_id), custom_id)

    @api
    async def link_email(self, user_id: str, email: str, password: str) -> None:
        """Set a user's email address and password (the address is stored lowercased).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Email address and password is required.`
            - 3 INVALID_ARGUMENT `Invalid email address, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Password must be at least 8 characters long.`
            - 3 INVALID_ARGUMENT `Password must be at most 72 bytes long.`
            - 3 INVALID_ARGUMENT `Invalid email address format.`
            - 3 INVALID_ARGUMENT `Invalid email address, must be 10-255 bytes.`
            - 6 ALREADY_EXISTS `Email is already in use.` (another user's; also when the user does not
              exist, as in Nakama)

        Example:
            nk.link_email(ctx.user_id, "player@example.com", "s3cret-pass")
        """
        await accounts.link_email(self._domain.pool, args.user_id(user_id), email, password)

    @api
    async def unlink_device(self, user_id: str, device_id: str) -> None:
        """Remove a device id from a user; another way to log in must remain.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `A device ID must be supplied.`
            - 7 PERMISSION_DENIED `Cannot unlink last account identifier. Check profile exists and is
              not last link.` (it is the user's only way to log in, or not the user's device)

        Example:
            nk.unlink_device(ctx.user_id, "device-0123456789")
        """
        await accounts.unlink_device(self._domain.pool, args.user_id(user_id), device_id)

    @api
    async def unlink_custom(self, user_id: str, custom_id: str | None = None) -> None:
        """Remove a user's custom id (`custom_id`, when given, must be the one set); another way to
        log in must remain.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 7 PERMISSION_DENIED `Cannot unlink last account identifier. Check profile exists and is
              not last link.` (it is the user's only way to log in, the given id is not the user's, or
              the user has none)

        Example:
            nk.unlink_custom(ctx.user_id)
        """
        await accounts.unlink_custom(self._domain.pool, args.user_id(user_id), custom_id)

    @api
    async def unlink_email(self, user_id: str, email: str | None = None) -> None:
        """Remove a user's email address and password (`email`, when given, must be the one set);
        another way to log in must remain.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 7 PERMISSION_DENIED `Cannot unlink last account identifier. Check profile exists and is
              not last link.` (it is the user's only way to log in, the given address is not the
              user's, or the user has none)

        Example:
            nk.unlink_email(ctx.user_id)
        """
        await accounts.unlink_email(self._domain.pool, args.user_id(user_id), email)
