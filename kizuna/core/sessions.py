"""Session tokens (Nakama's JWT format) and their revocation.

A session is a pair of HS256 JWTs sharing one token id (`tid`): the session token, signed with
`session.encryption_key`, and the refresh token, signed with `session.refresh_encryption_key`.
Claims, in Nakama's order: `tid`, `uid`, `usn`, `vrs` (only when there are vars), `exp`, `iat`.

Revocation goes beyond Nakama, whose deny-list lives in one node's memory: every issued session is
recorded in `user_session`; logging out (or a ban, or `session.single_session`) sets its
`revoke_time`. Each node keeps the revoked token ids in memory (checking a token costs no query),
loads them at start, hears new revocations at once through PostgreSQL NOTIFY, and polls as a
fallback, so a revoked token stays revoked after a restart and on every node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import jwt

try:  # PyJWT >= 2.10 warns about short HMAC keys; the config check already warns about defaults.
    import warnings

    from jwt.warnings import InsecureKeyLengthWarning

    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
except ImportError:  # pragma: no cover
    pass

from kizuna.config import Config
from kizuna.core.listener import Listener
from kizuna.errors import Code, KizunaError

log = logging.getLogger("kizuna.sessions")

CHANNEL = "kizuna_session_revoked"
_CLEANUP_SEC = 600.0


@dataclass(frozen=True)
class Session:
    token_id: str
    user_id: str
    username: str
    vars: dict[str, str]
    expires_at: int
    issued_at: int


@dataclass(frozen=True)
class IssuedSession:
    token: str
    refresh_token: str
    token_id: str
    expires_at: int
    refresh_expires_at: int


class Tokens:
    """Signs and verifies session and refresh tokens.

    Verified session tokens are remembered (a bounded map from the exact token text, signature
    included, to its claims): a client sends the same token with every request, and checking an
    HS256 signature and its claims with PyJWT costs more than the rest of a small request. The
    expiry is still checked on every use; revocation is the SessionStore's check, also per use.
    """

    CACHE_SIZE = 8192

    def __init__(self, cfg: Config) -> None:
        self.key = cfg.session.encryption_key
        self.refresh_key = cfg.session.refresh_encryption_key
        self.expiry = cfg.session.token_expiry_sec
        self.refresh_expiry = cfg.session.refresh_token_expiry_sec
        self._verified: dict[str, Session] = {}

    def issue(self, user_id: str, username: str, vars: dict[str, str] | None = None,
              token_id: str | None = None, issued_at: int | None = None,
              expires_at: int | None = None) -> IssuedSession:
        """A token pair; `expires_at` (unix seconds) overrides the session token's expiry."""
        now = int(time.time())
        tid = token_id or str(uuid.uuid4())
        iat = issued_at if issued_at is not None else now
        exp, rexp = expires_at or now + self.expiry, now + self.refresh_expiry
        token = jwt.encode(self._claims(tid, user_id, username, vars, exp, iat), self.key,
                           algorithm="HS256")
        refresh = jwt.encode(self._claims(tid, user_id, username, vars, rexp, iat),
                             self.refresh_key, algorithm="HS256")
        return IssuedSession(token, refresh, tid, exp, rexp)

    @staticmethod
    def _claims(tid: str, uid: str, usn: str, vrs: dict[str, str] | None, exp: int,
                iat: int) -> dict[str, Any]:
        claims: dict[str, Any] = {"tid": tid, "uid": uid, "usn": usn}
        if vrs:
            claims["vrs"] = vrs
        claims["exp"] = exp
        claims["iat"] = iat
        return claims

    def verify(self, token: str) -> Session | None:
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at > time.time():
                return known
            del self._verified[token]
            return None
        session = self._verify(token, self.key)
        if session is not None:
            cache = self._verified
            if len(cache) >= self.CACHE_SIZE:
                del cache[next(iter(cache))]  # the oldest entry
            cache[token] = session
        return session

    def verify_refresh(self, token: str) -> Session | None:
        return self._verify(token, self.refresh_key)

    @staticmethod
    def _verify(token: str, key: str) -> Session | None:
        try:
            claims = jwt.decode(token, key, algorithms=["HS256"],
                                options={"require": ["exp", "tid", "uid"], "verify_iat": False})
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        tid, uid, usn = claims.get("tid"), claims.get("uid"), claims.get("usn", "")
        vrs = claims.get("vrs") or {}
        if not (isinstance(tid, str) and isinstance(uid, str) and isinstance(usn, str)
                and isinstance(vrs, dict)):
            return None
        try:
            uuid.UUID(uid)
            uuid.UUID(tid)
        except ValueError:
            return None
        return Session(tid, uid, usn, {str(k): str(v) for k, v in vrs.items()},
                       int(claims["exp"]), int(claims.get("iat", 0)))


@dataclass
class Revocations:
    """The revoked token ids this node knows of, with the time each stops mattering."""
    expiry: dict[str, float] = field(default_factory=dict)

    # Called with each token id revoked for the first time on this node (e.g. the realtime
    # layer closes the sockets opened with it).
    listener: Any = None

    def add(self, tid: str, expires_at: float) -> None:
        new = tid not in self.expiry
        self.expiry[tid] = expires_at
        if new and self.listener is not None:
            try:
                self.listener(tid)
            except Exception:  # a listener's failure must not break revocation
                log.exception("revocation listener failed")

    def __contains__(self, tid: str) -> bool:
        return tid in self.expiry

    def prune(self, now: float) -> None:
        for tid in [t for t, e in self.expiry.items() if e < now]:
            del self.expiry[tid]


class SessionStore:
    """Records sessions, revokes them, and answers "is this token revoked?" from memory."""

    def __init__(self, pool: asyncpg.Pool, cfg: Config, listener: Listener | None = None) -> None:
        self.pool = pool
        self.tokens = Tokens(cfg)
        self.single_session = cfg.session.single_session
        self.poll_sec = cfg.session.revocation_poll_ms / 1000
        self.revoked = Revocations()
        self._last_poll: Any = None
        # The node's LISTEN connection (shared with other areas; see core/listener.py).
        self.listener = listener if listener is not None else Listener(pool)
        self.listener.subscribe(CHANNEL, self._on_notify)
        self._wake = asyncio.Event()
        self.listener.on_lost.append(self._wake.set)
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        rows = await self.pool.fetch(
            "SELECT token_id::text AS tid, extract(epoch FROM expire_time) AS exp, revoke_time "
            "FROM user_session WHERE revoke_time IS NOT NULL AND expire_time > now()")
        for r in rows:
            self.revoked.add(r["tid"], float(r["exp"]))
        self._last_poll = await self.pool.fetchval("SELECT now()")
        await self.listener.start()
        self._tasks.append(asyncio.create_task(self._poll_loop(), name="session-poll"))
        self._tasks.append(asyncio.create_task(self._cleanup_loop(), name="session-cleanup"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.listener.stop()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        now = time.time()
        for item in payload.split(","):
            tid, _, exp = item.partition(":")
            if tid:
                self.revoked.add(tid, float(exp or now + 86400))

    async def _poll_loop(self) -> None:
        """Every `session.revocation_poll_ms` (or at once when the listening connection is lost):
        make sure a LISTEN is in place, then read the revocations recorded since the last poll, so
        nothing missed while no LISTEN was active is lost, and prune the expired ones. Each poll
        is logged at debug level (`session revocations polled`, with `fresh`: how many of the
        revocations read were new to this node), which tests wait on and check."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_sec):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.listener.check()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("session revocation listener failed", extra={"error": str(exc)})
            try:
                rows = await self.pool.fetch(
                    "SELECT token_id::text AS tid, extract(epoch FROM expire_time) AS exp, "
                    "revoke_time FROM user_session WHERE revoke_time >= $1", self._last_poll)
                fresh = 0  # revocations this node learns from the poll (NOTIFY missed them)
                for r in rows:
                    fresh += r["tid"] not in self.revoked
                    self.revoked.add(r["tid"], float(r["exp"]))
                    if r["revoke_time"] > self._last_poll:
                        self._last_poll = r["revoke_time"]
                self.revoked.prune(time.time())
                log.debug("session revocations polled",
                          extra={"fresh": fresh, "held": len(self.revoked.expiry)})
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("session revocation poll failed", extra={"error": str(exc)})

    async def _cleanup_loop(self) -> None:
        while True:
            await asyncio.sleep(_CLEANUP_SEC)
            try:
                await self.pool.execute(
                    "DELETE FROM user_session WHERE expire_time < now() - interval '1 minute'")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("session cleanup failed", extra={"error": str(exc)})

    # -- issuing and checking ------------------------------------------------------------------

    async def create(self, conn: asyncpg.Connection | asyncpg.Pool, user_id: str, username: str,
                     vars: dict[str, str] | None, expires_at: int | None = None) -> IssuedSession:
        """Issue a new session for a user who just authenticated, and record it."""
        issued = self.tokens.issue(user_id, username, vars, expires_at=expires_at)
        await conn.execute(
            "INSERT INTO user_session (token_id, user_id, expire_time) "
            "VALUES ($1, $2, to_timestamp($3))", issued.token_id, user_id,
            max(issued.refresh_expires_at, issued.expires_at))
        if self.single_session:
            await self.revoke_user(user_id, keep=issued.token_id)
        return issued

    def authenticate(self, token: str) -> Session:
        """The session a Bearer token stands for; 401 `Auth token invalid` otherwise."""
        session = self.tokens.verify(token)
        if session is None or session.token_id in self.revoked:
            raise KizunaError(Code.UNAUTHENTICATED, "Auth token invalid")
        return session

    async def refresh(self, conn: asyncpg.Connection | asyncpg.Pool, old: Session,
                      username: str, vars: dict[str, str] | None) -> IssuedSession:
        """A new token pair for the same session: same `tid` and `iat`, fresh expiries."""
        issued = self.tokens.issue(old.user_id, username, old.vars if vars is None else vars,
                                   token_id=old.token_id, issued_at=old.issued_at)
        # The record lives as long as the longest-lived token of the session ever issued (a
        # session token may outlive the refresh token, and an earlier one may outlive a later
        # one): a revocation is kept, and enforced, until every token it covers has expired.
        await conn.execute(
            "INSERT INTO user_session (token_id, user_id, expire_time) "
            "VALUES ($1, $2, to_timestamp($3)) "
            "ON CONFLICT (token_id) DO UPDATE "
            "SET expire_time = GREATEST(user_session.expire_time, EXCLUDED.expire_time) "
            "WHERE user_session.revoke_time IS NULL", issued.token_id, old.user_id,
            max(issued.refresh_expires_at, issued.expires_at))
        return issued

    # -- revoking ------------------------------------------------------------------------------

    async def logout(self, user_id: str, token: str | None, refresh_token: str | None) -> None:
        """End a user's session (given its token and/or refresh token), or every session of the
        user when neither is given. A token must be valid and belong to the user."""
        if not token and not refresh_token:
            await self.revoke_user(user_id)
            return
        expiries: dict[str, int] = {}
        if token:
            s = self.tokens.verify(token)
            if s is None or s.user_id != user_id:
                raise KizunaError(Code.INVALID_ARGUMENT, "Session token invalid.")
            expiries[s.token_id] = max(expiries.get(s.token_id, 0), s.expires_at)
        if refresh_token:
            s = self.tokens.verify_refresh(refresh_token)
            if s is None or s.user_id != user_id:
                raise KizunaError(Code.INVALID_ARGUMENT, "Refresh token invalid.")
            expiries[s.token_id] = max(expiries.get(s.token_id, 0), s.expires_at)
        # A session and its refresh token share one token id: revoking it ends both.
        await self.revoke(user_id, expiries)

    async def revoke(self, user_id: str, expiries: dict[str, int]) -> None:
        """Revoke the sessions whose token ids are given, with the expiry of the tokens shown.
        A session with no record (a token Nakama issued before a move to Kizuna, signed with the
        same key) gets one, revoked, so it stays revoked until its token expires."""
        if not expiries:
            return
        tids = sorted(expiries)
        rows = await self.pool.fetch(
            "INSERT INTO user_session (token_id, user_id, expire_time, revoke_time) "
            "SELECT t.tid, $1, to_timestamp(t.exp), clock_timestamp() "
            "FROM unnest($2::uuid[], $3::bigint[]) AS t(tid, exp) "
            "ON CONFLICT (token_id) DO UPDATE SET revoke_time = clock_timestamp(), "
            "expire_time = GREATEST(user_session.expire_time, EXCLUDED.expire_time) "
            "WHERE user_session.user_id = $1 AND user_session.revoke_time IS NULL "
            "RETURNING token_id::text AS tid, extract(epoch FROM expire_time) AS exp",
            user_id, tids, [expiries[t] for t in tids])
        await self._publish(rows)

    async def revoke_user(self, user_id: str, keep: str | None = None) -> None:
        """Revoke every live session of a user (logout everywhere, ban, delete)."""
        rows = await self.pool.fetch(
            "UPDATE user_session SET revoke_time = clock_timestamp() "
            "WHERE user_id = $1 AND revoke_time IS NULL AND expire_time > now() "
            "AND token_id IS DISTINCT FROM $2::uuid "
            "RETURNING token_id::text AS tid, extract(epoch FROM expire_time) AS exp",
            user_id, keep)
        await self._publish(rows)

    async def _publish(self, rows: list[asyncpg.Record]) -> None:
        items = [f"{r['tid']}:{int(r['exp'])}" for r in rows]
        for r in rows:
            self.revoked.add(r["tid"], float(r["exp"]))
        # NOTIFY payloads are limited to 8000 bytes: send in chunks.
        for i in range(0, len(items), 150):
            await self.pool.execute("SELECT pg_notify($1, $2)", CHANNEL, ",".join(items[i:i + 150]))
