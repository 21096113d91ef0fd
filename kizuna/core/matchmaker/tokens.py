"""The matchmaker's match tokens: how a group the matchmaker formed finds its relayed match.

When no server code chose a match for a group (no `register_matchmaker_matched` function, or it
returned no id), every member's `matchmaker_matched` carries the same token instead of a match id:
a JWT signed with HS256 and `session.encryption_key`, with the claims `mid` (a fresh relayed match
id, "<uuid>.") and `exp` (now + 30 s), as Nakama's. The match does not exist until the first
member joins with the token (`match_join {token}`); the token is the proof that whoever joins was
matched into it. A token holding an authoritative id ("<uuid>.<node>") joins that match.
"""

from __future__ import annotations

import time
import uuid
import warnings

import jwt

from kizuna.core.matches import MatchId, parse_id
from kizuna.errors import Code, KizunaError

# PyJWT >= 2.10 warns about short HMAC keys; the config check already warns about the defaults.
_KEY_WARNING: type[Warning]
try:
    from jwt.warnings import InsecureKeyLengthWarning as _KEY_WARNING
except ImportError:  # pragma: no cover
    _KEY_WARNING = UserWarning

__all__ = ["INVALID_TOKEN", "TOKEN_TTL_SEC", "issue", "read", "relayed_match_id"]

TOKEN_TTL_SEC = 30
INVALID_TOKEN = "Invalid match token"  # Nakama's words, for every way a token can be wrong


def relayed_match_id() -> str:
    """A new relayed match id, "<uuid>."."""
    return f"{uuid.uuid4()}."


def issue(key: str, match_id: str, now: float | None = None) -> str:
    """A token for `match_id`, valid for TOKEN_TTL_SEC seconds."""
    at = int(time.time() if now is None else now)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _KEY_WARNING)
        return jwt.encode({"mid": match_id, "exp": at + TOKEN_TTL_SEC}, key, algorithm="HS256")


def read(key: str, token: str) -> MatchId:
    """The match a token names. INVALID_ARGUMENT "Invalid match token" when it is not one: not a
    JWT, another algorithm or key, expired, no `exp`, or a `mid` that is not a match id."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", _KEY_WARNING)
            claims = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp"]})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise KizunaError(Code.INVALID_ARGUMENT, INVALID_TOKEN) from None
    parsed = parse_id(claims.get("mid"))
    if parsed is None:
        raise KizunaError(Code.INVALID_ARGUMENT, INVALID_TOKEN)
    return parsed
