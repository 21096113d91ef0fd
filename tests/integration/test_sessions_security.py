"""Session security against real `kizuna server` processes: what a token must NOT get you.

Forged, re-signed, expired, wrong-kind and logged-out tokens are all refused with 401. Revocation
is durable: it survives a restart and reaches every node sharing the database (a deliberate step
beyond Nakama's per-node, in-memory deny-list).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid

import aiohttp
import asyncpg
import pytest

from tests.conftest import PG
from tests.integration.nakama_http import (
    REFRESH_ENCRYPTION_KEY,
    Api,
    assert_error,
    assert_ok,
    basic,
    bearer,
    claims,
    forge,
    poll,
    unsigned,
    verify,
)

AUTH_INVALID = "Auth token invalid"
REFRESH_INVALID = "Refresh token invalid or expired."
# Ceiling for anything the server does "at once" (a NOTIFY, a refused token after its expiry): far
# above what it takes on any machine, reached only when the behaviour is broken.
CEILING = 30.0
# A revocation poll interval no test ever waits out: with it, whatever reaches another node came
# through NOTIFY. At debug level each poll is logged (POLLED) with how many revocations it brought
# that the node did not know yet, so a test can also check that no poll (a lost listening
# connection wakes one early) brought the revocation it waits for.
NO_POLL = ("--session.revocation_poll_ms", "3600000", "--logger.level", "debug")
POLLED = "session revocations polled"


def learned_by_polling(log: str) -> list[str]:
    """The revocation polls of a node's (debug) log that brought revocations NOTIFY had not."""
    return [line for line in log.splitlines()
            if POLLED in line and not re.search(r"\bfresh=0\b", line)]


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as session:
        yield session


def start(server_factory, db_address: str, *extra: str):
    return server_factory("--migrate", "--database.address", db_address, "--logger.format", "text", *extra)


def uniq(prefix: str = "device") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def login(api: Api, device: str | None = None, **account) -> dict:
    return await api.login("device", {"id": device or uniq(), **account})


async def token_status(api: Api, token: str) -> int:
    return (await api.get("/v2/account", token)).status


def _b64(doc: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).rstrip(b"=").decode()


async def _true(value: bool) -> bool:
    return value


async def test_forged_and_wrong_kind_tokens_are_refused(server, http):
    api = Api(server.url, http)
    s = await login(api, vars={"role": "player"})
    assert_ok(await api.get("/v2/account", s["token"]))
    good = verify(s["token"])
    now = int(time.time())
    header, payload, signature = s["token"].split(".")

    forged = {
        "signed with another key": forge(good, key="not-the-encryption-key"),
        "signed with the refresh key": forge(good, key=REFRESH_ENCRYPTION_KEY),
        "the refresh token itself": s["refresh_token"],
        "alg none": unsigned(good),
        "alg none, original signature": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}",
        "HS512 with the right key": forge(good, alg="HS512"),
        "HS384 with the right key": forge(good, alg="HS384"),
        "payload swapped, signature kept": f"{header}.{_b64({**good, 'vrs': {'role': 'admin'}})}.{signature}",
        "other user, signature kept": f"{header}.{_b64({**good, 'uid': str(uuid.uuid4())})}.{signature}",
        "expired": forge({**good, "exp": now - 5, "iat": now - 65}),
        "no exp": forge({k: v for k, v in good.items() if k != "exp"}),
        "uid not a uuid": forge({**good, "uid": "admin"}),
        "signature stripped": f"{header}.{payload}.",
        "two parts": f"{header}.{payload}",
        "garbage": "garbage",
        "empty-ish": "a.b.c",
    }
    for name, token in forged.items():
        r = await api.get("/v2/account", token)
        assert r.status == 401, name
        assert_error(r, 401, 16, AUTH_INVALID)
        assert_error(await api.post("/v2/session/logout", token), 401, 16, AUTH_INVALID)
        assert_error(await api.put("/v2/account", token, {"display_name": "pwned"}), 401, 16, AUTH_INVALID)

    # Wrong schemes and malformed headers on a Bearer endpoint.
    for auth in (basic(), basic("wrongkey"), "Bearer", "Bearer ", "Token " + s["token"], s["token"],
                 "Bearer  " + "x" * 10):
        assert_error(await api.call("GET", "/v2/account", auth=auth), 401, 16, AUTH_INVALID)
    assert_error(await api.call("GET", "/v2/account"), 401, 16, "Auth token required")

    # Refresh accepts only refresh tokens, properly signed.
    good_refresh = verify(s["refresh_token"], REFRESH_ENCRYPTION_KEY)
    for _case, token in {
        "session token": s["token"],
        "signed with the session key": forge(good_refresh),
        "alg none": unsigned(good_refresh),
        "HS512 with the refresh key": forge(good_refresh, key=REFRESH_ENCRYPTION_KEY, alg="HS512"),
        "expired": forge({**good_refresh, "exp": now - 1}, key=REFRESH_ENCRYPTION_KEY),
        "garbage": "garbage",
    }.items():
        assert_error(await api.refresh(token), 401, 16, REFRESH_INVALID)

    # None of the attempts changed anything: the real session still works, with its own claims.
    doc = assert_ok(await api.get("/v2/account", s["token"]))
    assert "display_name" not in doc["user"]
    assert (await api.refresh(s["refresh_token"])).status == 200

    # A correctly signed token for a user that does not exist (only the key holder can make one).
    ghost = forge({**good, "uid": str(uuid.uuid4())})
    assert_error(await api.get("/v2/account", ghost), 404, 5, "Account not found.")
    ghost_refresh = forge({**good_refresh, "uid": str(uuid.uuid4())}, key=REFRESH_ENCRYPTION_KEY)
    assert_error(await api.refresh(ghost_refresh), 404, 5, "User account not found.")


async def test_wrong_server_key_is_refused(server, http):
    api = Api(server.url, http)
    s = await login(api)
    for auth in (basic("wrongkey"), basic("defaultke"), basic("defaultkey-"), basic("DEFAULTKEY"),
                 bearer(s["token"]), "Basic", "Basic ZGVmYXVsdGtleQ=="):
        for kind, account in (("device", {"id": uniq()}), ("custom", {"id": uniq("custom")}),
                              ("email", {"email": f"{uniq('k')}@example.com", "password": "password1"})):
            assert_error(await api.authenticate(kind, account, auth=auth), 401, 16, "Server key invalid")
        r = await api.call("POST", "/v2/account/session/refresh", auth=auth,
                           json_body={"token": s["refresh_token"]})
        assert_error(r, 401, 16, "Server key invalid")
    # Nothing was created by the refused calls.
    assert_ok(await api.get("/v2/user", s["token"], params={"usernames": claims(s["token"])["usn"]}))


async def test_expired_tokens(server_factory, db_address, http):
    """Tokens expire on the configured schedule: not before `exp` (checked against the claims),
    and at some point after it (waited for). The refresh token lives long enough (at least four
    seconds, with second-rounded issue times) for the refresh right after the login to happen
    while it is valid on any machine."""
    srv = start(server_factory, db_address, "--session.token_expiry_sec", "1",
                "--session.refresh_token_expiry_sec", "5")
    api = Api(srv.url, http)
    s = await login(api)
    c = claims(s["token"])
    assert c["exp"] == c["iat"] + 1 and claims(s["refresh_token"])["exp"] == c["iat"] + 5
    # Refresh works while the refresh token lives.
    fresh = assert_ok(await api.refresh(s["refresh_token"]))

    async def refused(token):
        r = await api.get("/v2/account", token)
        return r if r.status == 401 else None

    r = await poll(lambda: refused(s["token"]), timeout=CEILING)
    assert_error(r, 401, 16, AUTH_INVALID)
    assert time.time() >= c["exp"]

    async def refresh_refused():
        r = await api.refresh(s["refresh_token"])
        return r if r.status == 401 else None

    r = await poll(refresh_refused, timeout=CEILING)
    assert_error(r, 401, 16, REFRESH_INVALID)
    assert time.time() >= c["iat"] + 5
    # The refreshed pair expired on its own schedule as well (it kept the old iat, got new exp).
    await poll(lambda: refused(fresh["token"]), timeout=CEILING)
    assert time.time() >= claims(fresh["token"])["exp"]


async def test_logout_survives_a_restart(server_factory, db_address, http):
    first = start(server_factory, db_address)
    api = Api(first.url, http)
    out = await login(api)                     # logged out by token
    everywhere = await login(api, "user-logging-out-all")
    everywhere2 = await login(api, "user-logging-out-all")
    kept = await login(api)                    # never logged out
    assert_ok(await api.post("/v2/session/logout", out["token"],
                             {"token": out["token"], "refresh_token": out["refresh_token"]}), {})
    assert_ok(await api.post("/v2/session/logout", everywhere["token"]), {})
    first.stop()
    assert first.proc.returncode == 0

    second = start(server_factory, db_address)
    api = Api(second.url, http)
    for s in (out, everywhere, everywhere2):
        assert_error(await api.get("/v2/account", s["token"]), 401, 16, AUTH_INVALID)
        assert_error(await api.refresh(s["refresh_token"]), 401, 16, REFRESH_INVALID)
    assert_ok(await api.get("/v2/account", kept["token"]))
    assert (await api.refresh(kept["refresh_token"])).status == 200
    # The user who logged out everywhere can log in again.
    again = await login(api, "user-logging-out-all")
    assert_ok(await api.get("/v2/account", again["token"]))


async def test_logout_reaches_another_node(server_factory, db_address, http):
    """Through NOTIFY: both nodes poll for revocations only once an hour, so whatever reaches the
    other node within the test came through PostgreSQL NOTIFY, however slow the machine."""
    node_a = start(server_factory, db_address, *NO_POLL)
    node_b = start(server_factory, db_address, *NO_POLL)
    a, b = Api(node_a.url, http), Api(node_b.url, http)

    s = await login(a)
    assert_ok(await b.get("/v2/account", s["token"]))          # one database, one set of users
    assert (await b.refresh(s["refresh_token"])).status == 200

    async def rejected_on(api, token):
        r = await api.get("/v2/account", token)
        return r if r.status == 401 else None

    async def refresh_rejected_on(api, token):
        r = await api.refresh(token)
        return r if r.status == 401 else None

    # A logout through node A is honoured by node B (without a poll: NOTIFY).
    assert_ok(await a.post("/v2/session/logout", s["token"],
                           {"token": s["token"], "refresh_token": s["refresh_token"]}), {})
    r = await poll(lambda: rejected_on(b, s["token"]), timeout=CEILING)
    assert_error(r, 401, 16, AUTH_INVALID)
    r = await poll(lambda: refresh_rejected_on(b, s["refresh_token"]), timeout=CEILING)
    assert_error(r, 401, 16, REFRESH_INVALID)

    # Logging out everywhere through node B ends sessions made on either node, as seen from node A.
    on_a = await login(a, "two-node-user")
    on_b = await login(b, "two-node-user")
    bystander = await login(a)
    assert_ok(await b.post("/v2/session/logout", on_b["token"]), {})
    for sess in (on_a, on_b):
        await poll(lambda sess=sess: rejected_on(a, sess["token"]), timeout=CEILING)
        await poll(lambda sess=sess: refresh_rejected_on(a, sess["refresh_token"]), timeout=CEILING)
    assert_ok(await a.get("/v2/account", bystander["token"]))
    assert_ok(await b.get("/v2/account", bystander["token"]))
    # A new login afterwards works on both nodes.
    again = await login(b, "two-node-user")
    assert_ok(await a.get("/v2/account", again["token"]))

    # Deleting the account through node A ends its sessions on node B too.
    doomed = await login(a)
    assert_ok(await b.get("/v2/account", doomed["token"]))
    assert_ok(await a.delete("/v2/account", doomed["token"]), {})
    r = await poll(lambda: rejected_on(b, doomed["token"]), timeout=CEILING)
    assert_error(r, 401, 16, AUTH_INVALID)
    # No poll brought any of them: the revocations above all came through NOTIFY.
    assert learned_by_polling(node_a.log() + node_b.log()) == []


async def test_single_session(server_factory, db_address, http):
    srv = start(server_factory, db_address, "--session.single_session", "true")
    api = Api(srv.url, http)
    first = await login(api, "single-session-device")
    other_user = await login(api)
    assert_ok(await api.get("/v2/account", first["token"]))

    second = await login(api, "single-session-device")
    assert claims(second["token"])["uid"] == claims(first["token"])["uid"]
    assert_error(await api.get("/v2/account", first["token"]), 401, 16, AUTH_INVALID)
    assert_error(await api.refresh(first["refresh_token"]), 401, 16, REFRESH_INVALID)
    assert_ok(await api.get("/v2/account", second["token"]))
    assert_ok(await api.get("/v2/account", other_user["token"]))

    # Refreshing is not a new login: the current session survives its own refresh.
    refreshed = assert_ok(await api.refresh(second["refresh_token"]))
    assert_ok(await api.get("/v2/account", second["token"]))
    assert_ok(await api.get("/v2/account", refreshed["token"]))

    # Any way of logging in counts: a linked custom id ends the device session.
    assert_ok(await api.post("/v2/account/link/custom", second["token"], {"id": "single-custom"}), {})
    third = await api.login("custom", {"id": "single-custom"})
    assert_error(await api.get("/v2/account", second["token"]), 401, 16, AUTH_INVALID)
    assert_error(await api.get("/v2/account", refreshed["token"]), 401, 16, AUTH_INVALID)
    assert_ok(await api.get("/v2/account", third["token"]))
    assert_ok(await api.get("/v2/account", other_user["token"]))


async def test_revocation_holds_until_the_token_expires(server_factory, db_address, http):
    """A session token that outlives its refresh token (token_expiry_sec > refresh_token_expiry_sec)
    stays revoked until its own expiry: after a refresh, after the refresh token's expiry and after
    the node prunes expired revocations; and a logout-all after the refresh token expired still
    reaches it. The node polls (and prunes) every 200 ms and logs each poll at debug level: the
    test waits for polls that started after the refresh tokens expired."""
    srv = start(server_factory, db_address, "--session.token_expiry_sec", "120",
                "--session.refresh_token_expiry_sec", "5", "--session.revocation_poll_ms", "200",
                "--logger.level", "debug")
    api = Api(srv.url, http)
    logged_out = await login(api)
    logged_out = assert_ok(await api.refresh(logged_out["refresh_token"]))
    assert_ok(await api.post("/v2/session/logout", logged_out["token"],
                             {"token": logged_out["token"]}), {})
    everywhere = await login(api, "user-logging-out-late")
    everywhere = assert_ok(await api.refresh(everywhere["refresh_token"]))
    refresh_exp = claims(everywhere["refresh_token"])["exp"]
    assert claims(everywhere["token"])["exp"] > refresh_exp + 20

    async def refresh_expired():
        r = await api.refresh(everywhere["refresh_token"])
        return r if r.status == 401 else None

    await poll(refresh_expired, timeout=CEILING)
    # The session token still works: only the refresh token has expired.
    assert_ok(await api.get("/v2/account", everywhere["token"]))
    assert_ok(await api.post("/v2/session/logout", everywhere["token"]), {})
    # Past the refresh tokens' expiry (the first one logged out was refreshed earlier) and past a
    # revocation poll that started afterwards (which prunes what has expired): two more polls.
    assert time.time() >= claims(logged_out["refresh_token"])["exp"]
    polls_before = srv.log().count(POLLED)
    await poll(lambda: _true(srv.log().count(POLLED) >= polls_before + 2), timeout=CEILING)
    for token in (logged_out["token"], everywhere["token"]):
        assert_error(await api.get("/v2/account", token), 401, 16, AUTH_INVALID)
    srv.stop()
    again = start(server_factory, db_address)  # and after a restart, from the database alone
    api = Api(again.url, http)
    for token in (logged_out["token"], everywhere["token"]):
        assert_error(await api.get("/v2/account", token), 401, 16, AUTH_INVALID)


async def test_revocations_reach_a_node_whose_database_connections_were_terminated(
        server_factory, db_address, http):
    """The database drops every connection of a node (failover, pg_terminate_backend): the node
    serves again, LISTENs again by itself, and a logout on another node reaches it at once."""
    node_a = start(server_factory, db_address, *NO_POLL)
    node_b = start(server_factory, db_address, *NO_POLL)
    a, b = Api(node_a.url, http), Api(node_b.url, http)
    s = await login(a)
    assert_ok(await b.get("/v2/account", s["token"]))
    # Load first, so each node's pool holds many idle connections that the fault also kills.
    for api in (a, b):
        replies = await asyncio.gather(*(api.get("/v2/account", s["token"]) for _ in range(16)))
        assert all(r.status == 200 for r in replies)
    dbname = db_address.rsplit("/", 1)[1]
    conn = await asyncpg.connect(f"postgresql://{PG}/{dbname}")
    try:
        listening = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'"
        before = {r["pid"] for r in await conn.fetch(listening, dbname)}
        assert len(before) == 2  # one listening connection per node
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 "
            "AND pid <> pg_backend_pid()", dbname)

        async def listening_again():
            now = {r["pid"] for r in await conn.fetch(listening, dbname)}
            return now if len(now) == 2 and not now & before else None

        try:
            await poll(listening_again, timeout=CEILING)
        except AssertionError:
            print(node_b.log()[-3000:])
            raise
    finally:
        await conn.close()

    async def serves(api):
        r = await api.get("/v2/account", s["token"])
        return r if r.status == 200 else None

    await poll(lambda: serves(b), timeout=CEILING)
    await poll(lambda: serves(a), timeout=CEILING)
    assert_ok(await a.post("/v2/session/logout", s["token"], {"token": s["token"]}), {})

    async def rejected_on_b():
        r = await b.get("/v2/account", s["token"])
        return r if r.status == 401 else None

    assert_error(await poll(rejected_on_b, timeout=CEILING), 401, 16, AUTH_INVALID)
    # NOTIFY, not the poll: node B polls once an hour, and the poll woken by the lost listening
    # connection (whenever it ran) brought no revocation node B did not have already.
    assert learned_by_polling(node_b.log()) == [], node_b.log()[-3000:]
