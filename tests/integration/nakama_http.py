"""A tiny HTTP client for the integration tests: raw requests to a running `kizuna server`, the way
a Nakama client sends them, and helpers to read what comes back (status, headers, exact JSON, JWTs).

Nothing here knows the server's internals: tests assert only what a client can observe, plus the
database rows a test writes itself (for example a ban).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import jwt
from multidict import CIMultiDictProxy

try:  # Nakama's default keys are shorter than PyJWT would like; that is the point here.
    from jwt.warnings import InsecureKeyLengthWarning
except ImportError:  # pragma: no cover
    InsecureKeyLengthWarning = UserWarning  # type: ignore[misc,assignment]

SERVER_KEY = "defaultkey"
ENCRYPTION_KEY = "defaultencryptionkey"
REFRESH_ENCRYPTION_KEY = "defaultrefreshencryptionkey"
NO_CACHE = "no-store, no-cache, must-revalidate"


def basic(key: str = SERVER_KEY, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()


def bearer(token: str) -> str:
    return "Bearer " + token


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"Reply({self.status}, {self.body[:400]!r})"


class Api:
    """Requests against one server. `Accept-Encoding` is only sent when a test asks for it."""

    def __init__(self, base_url: str, http: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.http = http

    async def call(self, method: str, path: str, *, json_body: Any = None, data: bytes | str | None = None,
                   params: Any = None, auth: str | None = None,
                   headers: dict[str, str] | None = None) -> Reply:
        hdrs = dict(headers or {})
        if auth is not None:
            hdrs["Authorization"] = auth
        if json_body is not None:
            data = json.dumps(json_body)
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        async with self.http.request(method, self.base_url + path, data=data, params=params,
                                     headers=hdrs) as resp:
            body = await resp.read()
            return Reply(resp.status, resp.headers, body)

    # -- the calls most tests make -------------------------------------------------------------

    async def authenticate(self, kind: str, account: dict[str, Any], *, params: Any = None,
                           auth: str | None = None) -> Reply:
        return await self.call("POST", f"/v2/account/authenticate/{kind}", json_body=account,
                               params=params, auth=auth or basic())

    async def login(self, kind: str, account: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Authenticate and return the session body; fails the test on any error."""
        r = await self.authenticate(kind, account, **kw)
        assert r.status == 200, r
        return r.json

    async def get(self, path: str, token: str, **kw: Any) -> Reply:
        return await self.call("GET", path, auth=bearer(token), **kw)

    async def post(self, path: str, token: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("POST", path, auth=bearer(token),
                               json_body=body if body is not None else {}, **kw)

    async def put(self, path: str, token: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("PUT", path, auth=bearer(token),
                               json_body=body if body is not None else {}, **kw)

    async def delete(self, path: str, token: str, **kw: Any) -> Reply:
        return await self.call("DELETE", path, auth=bearer(token), **kw)

    async def refresh(self, refresh_token: str, vars: Any = None, *, omit_vars: bool = True) -> Reply:
        body: dict[str, Any] = {"token": refresh_token}
        if vars is not None or not omit_vars:
            body["vars"] = vars
        return await self.call("POST", "/v2/account/session/refresh", json_body=body, auth=basic())


def assert_error(reply: Reply, status: int, code: int, message: str) -> None:
    """An error exactly as grpc-gateway writes it, with the headers clients see."""
    assert (reply.status, reply.json) == (status, {"code": code, "message": message}), reply
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.headers["Cache-Control"] == NO_CACHE
    if code == 16:
        assert reply.headers["WWW-Authenticate"] == message
    else:
        assert "WWW-Authenticate" not in reply.headers


def assert_ok(reply: Reply, body: Any = None) -> Any:
    assert reply.status == 200, reply
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.headers["Cache-Control"] == NO_CACHE
    doc = reply.json
    if body is not None:
        assert doc == body
    return doc


# -- JWTs ----------------------------------------------------------------------------------------


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_parts(token: str) -> tuple[bytes, bytes]:
    """The raw header and payload JSON of a token (bytes, to check key order)."""
    header, payload, _sig = token.split(".")
    return _b64(header), _b64(payload)


def claims(token: str) -> dict[str, Any]:
    """The payload as nakama-js reads it: decoded, NOT verified."""
    return json.loads(jwt_parts(token)[1])


def verify(token: str, key: str = ENCRYPTION_KEY) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp"]})


def forge(payload: dict[str, Any], key: str = ENCRYPTION_KEY, alg: str = "HS256",
          headers: dict[str, Any] | None = None) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(payload, key, algorithm=alg, headers=headers)


def unsigned(payload: dict[str, Any]) -> str:
    """An `alg: none` token, built by hand (PyJWT refuses to)."""
    enc = lambda doc: base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'none', 'typ': 'JWT'})}.{enc(payload)}."


# -- the database, for what a client cannot do itself -----------------------------------------


def dsn(db_address: str) -> str:
    return f"postgresql://{db_address}"


async def sql(db_address: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn(db_address))
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def ban(db_address: str, user_id: str) -> None:
    await sql(db_address, "UPDATE users SET disable_time = now() WHERE id = $1", user_id)


async def poll(check, timeout: float = 30.0, interval: float = 0.05):
    """Call the async `check` until it returns something truthy; return that or fail."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)

class Rpc:
    """RPC functions called with the HTTP key (as a game's backend calls them): `call` gives
    (status, decoded result) or (status, error body); `ok` the result of a call that must succeed;
    `refused` checks an error exactly."""

    def __init__(self, http_key: str) -> None:
        self.http_key = http_key

    async def call(self, api: Api, name: str, payload: Any) -> tuple[int, Any]:
        r = await api.call("POST", f"/v2/rpc/{name}", data=json.dumps(json.dumps(payload)),
                           params={"http_key": self.http_key})
        if r.status == 200:
            body = r.json.get("payload")
            return 200, json.loads(body) if body else None
        return r.status, r.json

    async def ok(self, api: Api, name: str, payload: Any) -> Any:
        status, out = await self.call(api, name, payload)
        assert status == 200, out
        return out

    async def refused(self, api: Api, name: str, payload: Any, status: int, code: int,
                      message: str) -> None:
        assert await self.call(api, name, payload) == (
            status, {"error": message, "message": message, "code": code})


async def device_player(api: Api) -> tuple[str, str, str]:
    """A new user signed in with a fresh device id: (token, id, username)."""
    s = await api.login("device", {"id": f"dev-{uuid.uuid4()}"})
    c = claims(s["token"])
    return s["token"], c["uid"], c["usn"]
