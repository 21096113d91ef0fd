"""Who may use the console: the operator account of the configuration, tokens, lock-out.

Kizuna's console has one operator account, `console.username` / `console.password` (Nakama's
configuration keys and defaults). A request is signed in by either
- `Authorization: Bearer <token>`, the token from `POST /v2/console/authenticate`: an HS256 JWT
  signed with `console.signing_key`, valid `console.token_expiry_sec`; or
- `Authorization: Basic` with the username and password (for scripts, as Nakama's console).

Lock-out: failed sign-ins are counted per username and per client address over WINDOW_SEC. At
MAX_USER_FAILURES for a username (or MAX_ADDRESS_FAILURES from one address) further attempts are
refused for LOCK_SEC, even with the right password, with code 8 (RESOURCE_EXHAUSTED, HTTP 429).
The counts are per node, in memory (a restart forgets them), as Nakama's.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

import jwt

from kizuna.config import Config
from kizuna.errors import Code, KizunaError

log = logging.getLogger("kizuna.console")

WINDOW_SEC = 600.0
LOCK_SEC = 300.0
MAX_USER_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
DEFAULT_PASSWORD = "password"  # Nakama's default console.password
TOKEN_ISSUER = "kizuna-console"


@dataclass(frozen=True)
class Operator:
    """Who is signed in: the console username (what the audit log records)."""
    username: str
    token_id: str = ""


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class LockedOut(KizunaError):
    def __init__(self, seconds: float) -> None:
        super().__init__(Code.RESOURCE_EXHAUSTED,
                         f"Too many failed sign-in attempts: try again in {max(1, round(seconds))} s.")


class ConsoleAuth:
    def __init__(self, cfg: Config, clock=time.monotonic) -> None:
        self.cfg = cfg.console
        self.clock = clock
        self._failures: dict[str, _Failures] = {}

    @property
    def default_password(self) -> bool:
        return self.cfg.password == DEFAULT_PASSWORD

    # -- sign-in ---------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, address: str) -> str:
        """A console token for the right username and password; KizunaError otherwise."""
        keys = (f"user:{username}", f"addr:{address}")
        self._check_lock(keys)
        if not self._matches(username, password):
            self._fail(keys)
            log.warning("Console sign-in refused", extra={"username": username, "client": address})
            raise KizunaError(Code.UNAUTHENTICATED, "Invalid credentials.")
        for k in keys:
            self._failures.pop(k, None)
        log.info("Console sign-in", extra={"username": username, "client": address})
        return self.issue(username)

    def _matches(self, username: str, password: str) -> bool:
        # Both compared in constant time, and both always compared.
        user_ok = hmac.compare_digest(username.encode(), self.cfg.username.encode())
        pass_ok = hmac.compare_digest(password.encode(), self.cfg.password.encode())
        return user_ok and pass_ok

    def _check_lock(self, keys: tuple[str, ...]) -> None:
        now = self.clock()
        for k in keys:
            f = self._failures.get(k)
            if f is not None and f.locked_until > now:
                raise LockedOut(f.locked_until - now)

    def _fail(self, keys: tuple[str, ...]) -> None:
        now = self.clock()
        if len(self._failures) > 10_000:  # bounded: forget the stale entries
            for k in [k for k, f in self._failures.items()
                      if f.locked_until <= now and (not f.times or f.times[-1] < now - WINDOW_SEC)]:
                del self._failures[k]
        for k in keys:
            f = self._failures.setdefault(k, _Failures())
            f.times.append(now)
            while f.times and f.times[0] < now - WINDOW_SEC:
                f.times.popleft()
            limit = MAX_USER_FAILURES if k.startswith("user:") else MAX_ADDRESS_FAILURES
            if len(f.times) >= limit:
                f.locked_until = now + LOCK_SEC
                f.times.clear()
                log.warning("Console sign-in locked out after repeated failures",
                            extra={"key": k, "lock_sec": LOCK_SEC})

    # -- tokens ------------------------------------------------------------------------------------

    def issue(self, username: str) -> str:
        now = int(time.time())
        claims = {"iss": TOKEN_ISSUER, "usn": username, "jti": uuid.uuid4().hex, "iat": now,
                  "exp": now + self.cfg.token_expiry_sec}
        return jwt.encode(claims, self.cfg.signing_key, algorithm="HS256")

    def verify_token(self, token: str) -> Operator:
        try:
            claims = jwt.decode(token, self.cfg.signing_key, algorithms=["HS256"],
                                issuer=TOKEN_ISSUER, options={"require": ["exp", "usn", "iss"]})
        except jwt.ExpiredSignatureError:
            raise KizunaError(Code.UNAUTHENTICATED, "Console token expired.") from None
        except jwt.PyJWTError:
            raise KizunaError(Code.UNAUTHENTICATED, "Console token invalid.") from None
        username = claims.get("usn")
        if not isinstance(username, str) or username != self.cfg.username:
            # A token for an operator account that is no longer configured.
            raise KizunaError(Code.UNAUTHENTICATED, "Console token invalid.")
        return Operator(username, str(claims.get("jti", "")))

    def from_header(self, header: str, address: str) -> Operator:
        """The operator of an Authorization header (Bearer token or Basic credentials)."""
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return self.verify_token(value)
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise KizunaError(Code.UNAUTHENTICATED, "Console credentials invalid.") from None
            username, sep, password = decoded.partition(":")
            if not sep:
                raise KizunaError(Code.UNAUTHENTICATED, "Console credentials invalid.")
            keys = (f"user:{username}", f"addr:{address}")
            self._check_lock(keys)
            if not self._matches(username, password):
                self._fail(keys)
                raise KizunaError(Code.UNAUTHENTICATED, "Invalid credentials.")
            return Operator(username)
        raise KizunaError(Code.UNAUTHENTICATED, "Console authentication required.")
