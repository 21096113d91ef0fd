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
        """Find (or, with `create`, create) the user of a device id."""
        r = await accounts.authenticate_device(self._domain.pool, device_id, username or None,
                                               create)
        return AuthResult(r.user_id, r.username, r.created)

    @api
    async def authenticate_email(self, email: str, password: str, username: str | None = None,
                                 create: bool = True) -> AuthResult:
        """Find (or, with `create`, create) the user of an email address, checking the password."""
        r = await accounts.authenticate_email(self._domain.pool, email, password,
                                              username or None, create)
        return AuthResult(r.user_id, r.username, r.created)

    @api
    async def authenticate_custom(self, custom_id: str, username: str | None = None,
                                  create: bool = True) -> AuthResult:
        """Find (or, with `create`, create) the user of a custom id."""
        r = await accounts.authenticate_custom(self._domain.pool, custom_id, username or None,
                                               create)
        return AuthResult(r.user_id, r.username, r.created)

    @api
    async def authenticate_token_generate(self, user_id: str, username: str | None = None,
                                          exp: int | None = None,
                                          vars: Mapping[str, str] | None = None) -> TokenResult:
        """A session token for a user (recorded, so it can be revoked like any other). `exp` is
        the expiry in unix seconds (default: now + session.token_expiry_sec)."""
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
        await accounts.link_device(self._domain.pool, args.user_id(user_id), device_id)

    @api
    async def link_custom(self, user_id: str, custom_id: str) -> None:
        await accounts.link_custom(self._domain.pool, args.user_id(user_id), custom_id)

    @api
    async def link_email(self, user_id: str, email: str, password: str) -> None:
        await accounts.link_email(self._domain.pool, args.user_id(user_id), email, password)

    @api
    async def unlink_device(self, user_id: str, device_id: str) -> None:
        await accounts.unlink_device(self._domain.pool, args.user_id(user_id), device_id)

    @api
    async def unlink_custom(self, user_id: str, custom_id: str | None = None) -> None:
        await accounts.unlink_custom(self._domain.pool, args.user_id(user_id), custom_id)

    @api
    async def unlink_email(self, user_id: str, email: str | None = None) -> None:
        await accounts.unlink_email(self._domain.pool, args.user_id(user_id), email)
