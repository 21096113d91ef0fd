"""Accounts, sessions and users over HTTP, against a real `kizuna server` on a fresh database.

Every assertion is about what a Nakama client sees: status codes, headers and exact JSON bodies
(see docs/nakama-contract.md §3 and §11). The database is only touched to do what no client can
(ban an account) or to read the exact timestamps the server must echo.
"""

from __future__ import annotations

import gzip
import re
import time
import uuid
import zlib
from datetime import UTC

import aiohttp
import pytest

from tests.integration.nakama_http import (
    NO_CACHE,
    REFRESH_ENCRYPTION_KEY,
    Api,
    assert_error,
    assert_ok,
    ban,
    basic,
    bearer,
    claims,
    jwt_parts,
    sql,
    verify,
)

LAST_LINK = "Cannot unlink last account identifier. Check profile exists and is not last link."
PASSWORD = "correct-horse"


@pytest.fixture
async def api(server):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        yield Api(server.url, http)


def uniq(prefix: str = "dev") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def device_user(api: Api, username: str | None = None, **account) -> dict:
    """A new device account: its session body plus `uid`, `usn` and `device`."""
    device = uniq("device")
    params = {"username": username} if username else None
    s = await api.login("device", {"id": device, **account}, params=params)
    c = claims(s["token"])
    return {**s, "uid": c["uid"], "usn": c["usn"], "device": device}


async def account_of(api: Api, token: str) -> dict:
    return assert_ok(await api.get("/v2/account", token))


def rfc3339(t) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- authenticate ------------------------------------------------------------------------------


async def test_authenticate_device_creates_then_logs_in(api: Api):
    r = await api.authenticate("device", {"id": "wire-device-0001-abcdef"},
                               params={"create": "true", "username": "alice01"})
    first = assert_ok(r)
    assert set(first) == {"created", "token", "refresh_token"} and first["created"] is True
    assert r.headers["Grpc-Metadata-Content-Type"] == "application/grpc"
    c1 = claims(first["token"])
    assert c1["usn"] == "alice01"
    assert uuid.UUID(c1["uid"]).version == 4 and uuid.UUID(c1["tid"]).version == 4

    # The same id again, without `create`: the same user, a new session, no `created` key at all.
    again = assert_ok(await api.authenticate("device", {"id": "wire-device-0001-abcdef"}))
    assert set(again) == {"token", "refresh_token"}
    c2 = claims(again["token"])
    assert (c2["uid"], c2["usn"]) == (c1["uid"], "alice01")
    assert c2["tid"] != c1["tid"]

    # create=false finds the existing account; a username given for an existing account is ignored.
    existing = assert_ok(await api.authenticate(
        "device", {"id": "wire-device-0001-abcdef"}, params={"create": "false", "username": "bob"}))
    assert "created" not in existing
    assert (claims(existing["token"])["uid"], claims(existing["token"])["usn"]) == (c1["uid"], "alice01")
    assert (await api.authenticate("device", {"id": uniq("device")}, params={"username": "bob"})).status == 200

    # Both tokens of the first login work.
    assert (await api.get("/v2/account", first["token"])).status == 200


async def test_concurrent_first_logins_make_one_account(api: Api):
    import asyncio

    for kind, account in (("device", {"id": uniq("device")}), ("custom", {"id": uniq("custom")}),
                          ("email", {"email": f"{uniq('race')}@example.com", "password": PASSWORD})):
        replies = await asyncio.gather(*(api.authenticate(kind, account) for _ in range(6)))
        docs = [assert_ok(r) for r in replies]
        assert sum(1 for d in docs if d.get("created")) == 1, docs
        assert len({claims(d["token"])["uid"] for d in docs}) == 1


async def test_create_false_for_an_unknown_account_is_404(api: Api):
    for kind, account in (("device", {"id": uniq("device")}),
                          ("custom", {"id": uniq("custom")}),
                          ("email", {"email": f"{uniq('nobody')}@example.com", "password": PASSWORD})):
        r = await api.authenticate(kind, account, params={"create": "false"})
        assert_error(r, 404, 5, "User account not found.")
    # Nothing was created: the same ids with create=true now say created.
    s = assert_ok(await api.authenticate("custom", {"id": "custom-once"}))
    assert s["created"] is True


async def test_session_tokens_are_nakama_jwts(api: Api):
    before = int(time.time())
    s = await api.login("device", {"id": uniq("device"), "vars": {"platform": "node", "b": "2"}},
                        params={"username": "jwt-user"})
    after = int(time.time())

    header, _payload = jwt_parts(s["token"])
    assert header == b'{"alg":"HS256","typ":"JWT"}'
    rheader, _rpayload = jwt_parts(s["refresh_token"])
    assert rheader == b'{"alg":"HS256","typ":"JWT"}'

    c = verify(s["token"])
    assert list(claims(s["token"])) == ["tid", "uid", "usn", "vrs", "exp", "iat"]
    assert c["usn"] == "jwt-user" and c["vrs"] == {"platform": "node", "b": "2"}
    assert before <= c["iat"] <= after and c["exp"] == c["iat"] + 60

    rc = verify(s["refresh_token"], REFRESH_ENCRYPTION_KEY)
    assert list(claims(s["refresh_token"])) == ["tid", "uid", "usn", "vrs", "exp", "iat"]
    assert {k: rc[k] for k in ("tid", "uid", "usn", "vrs", "iat")} == \
        {k: c[k] for k in ("tid", "uid", "usn", "vrs", "iat")}
    assert rc["exp"] == rc["iat"] + 3600

    # Each key signs one kind only.
    import jwt as pyjwt
    with pytest.raises(pyjwt.InvalidSignatureError):
        verify(s["refresh_token"])
    with pytest.raises(pyjwt.InvalidSignatureError):
        verify(s["token"], REFRESH_ENCRYPTION_KEY)

    # Without vars there is no `vrs` claim at all (and `{}` counts as no vars).
    for account in ({"id": uniq("device")}, {"id": uniq("device"), "vars": {}}):
        s2 = await api.login("device", account)
        assert list(claims(s2["token"])) == ["tid", "uid", "usn", "exp", "iat"]
        assert list(claims(s2["refresh_token"])) == ["tid", "uid", "usn", "exp", "iat"]


async def test_generated_usernames_are_ten_letters(api: Api):
    names = set()
    for kind, account in (("device", {"id": uniq("device")}), ("custom", {"id": uniq("custom")}),
                          ("email", {"email": f"{uniq('gen')}@example.com", "password": PASSWORD}),
                          ("device", {"id": uniq("device")})):
        s = await api.login(kind, account)
        usn = claims(s["token"])["usn"]
        assert re.fullmatch(r"[A-Za-z]{10}", usn), usn
        names.add(usn)
    assert len(names) == 4
    # An empty username query is the same as none.
    s = await api.login("device", {"id": uniq("device")}, params={"username": ""})
    assert re.fullmatch(r"[A-Za-z]{10}", claims(s["token"])["usn"])


async def test_device_id_rules(api: Api):
    for body, message in (
            ({}, "Device ID is required."),
            ({"id": ""}, "Device ID is required."),
            ({"id": "short"}, "Device ID invalid, must be 10-128 bytes."),
            ({"id": "x" * 9}, "Device ID invalid, must be 10-128 bytes."),
            ({"id": "x" * 129}, "Device ID invalid, must be 10-128 bytes."),
            ({"id": "é" * 65}, "Device ID invalid, must be 10-128 bytes."),  # 130 bytes
            ({"id": "has a space inside"}, "Device ID invalid, no spaces or control characters allowed."),
            ({"id": "tab\tinside-id"}, "Device ID invalid, no spaces or control characters allowed."),
            ({"id": "nul\x00inside-id"}, "id: must not contain the NUL character (U+0000)"),
    ):
        assert_error(await api.authenticate("device", body), 400, 3, message)
    # Bytes, not characters, are counted; only ASCII spaces and controls are refused (Go's POSIX
    # classes), so a no-break space is allowed.
    for ok in ("x" * 10, "y" * 128, "é" * 5, "ü" * 64, "nbsp\u00a0inside"):
        assert assert_ok(await api.authenticate("device", {"id": ok}))["created"] is True


async def test_custom_id_rules(api: Api):
    for body, message in (
            ({}, "Custom ID is required."),
            ({"id": "12345"}, "Custom ID invalid, must be 6-128 bytes."),
            ({"id": "c" * 129}, "Custom ID invalid, must be 6-128 bytes."),
            ({"id": "with space"}, "Custom ID invalid, no spaces or control characters allowed."),
    ):
        assert_error(await api.authenticate("custom", body), 400, 3, message)
    for ok in ("123456", "c" * 128):
        s = assert_ok(await api.authenticate("custom", {"id": ok}))
        assert s["created"] is True
        assert "created" not in assert_ok(await api.authenticate("custom", {"id": ok}))


async def test_email_rules_and_messages(api: Api):
    good = "Someone.Mixed@Example.com"
    for body, message in (
            ({"email": "bad email@example.com", "password": PASSWORD},
             "Invalid email address, no spaces or control characters allowed."),
            ({"email": "not-an-email", "password": PASSWORD}, "Invalid email address format."),
            ({"email": "nodot@example", "password": PASSWORD}, "Invalid email address format."),
            ({"email": "a@b.co", "password": PASSWORD}, "Invalid email address, must be 10-255 bytes."),
            ({"email": "a" * 250 + "@example.com", "password": PASSWORD},
             "Invalid email address, must be 10-255 bytes."),
            ({"email": good, "password": "seven77"}, "Password must be at least 8 characters long."),
            ({"email": good}, "Password must be at least 8 characters long."),
            # No email: a username + password login, which needs a username.
            ({"password": PASSWORD}, "Username is required when email address is not supplied."),
            ({"email": "", "password": PASSWORD}, "Username is required when email address is not supplied."),
            ({}, "Password must be at least 8 characters long."),
    ):
        assert_error(await api.authenticate("email", body), 400, 3, message)
    # Over REST an empty body is an empty account (grpc-gateway allocates it), as `{}` is.
    r = await api.call("POST", "/v2/account/authenticate/email", data=b"", auth=basic())
    assert_error(r, 400, 3, "Password must be at least 8 characters long.")

    # Exactly 8 characters is enough; the email is stored lowercased.
    created = assert_ok(await api.authenticate("email", {"email": good, "password": "12345678"},
                                               params={"username": "mail-user"}))
    assert created["created"] is True
    uid = claims(created["token"])["uid"]
    assert (await account_of(api, created["token"]))["email"] == good.lower()
    again = assert_ok(await api.authenticate("email", {"email": good.upper(), "password": "12345678"}))
    assert "created" not in again and claims(again["token"])["uid"] == uid

    wrong = await api.authenticate("email", {"email": good, "password": "12345679"})
    assert_error(wrong, 401, 16, "Invalid credentials.")
    assert_error(await api.authenticate("email", {"email": good, "password": "12345679"},
                                        params={"create": "false"}), 401, 16, "Invalid credentials.")

    # Username + password login (no email): never creates, exact username, same credentials.
    by_name = assert_ok(await api.authenticate("email", {"password": "12345678"},
                                               params={"username": "mail-user"}))
    assert "created" not in by_name and claims(by_name["token"])["uid"] == uid
    assert_error(await api.authenticate("email", {"password": "wrong-pass"},
                                        params={"username": "mail-user"}), 401, 16, "Invalid credentials.")
    assert_error(await api.authenticate("email", {"password": "12345678"},
                                        params={"username": "no-such-user", "create": "true"}),
                 404, 5, "User account not found.")
    # A device account has no password: "Invalid credentials.", not a crash.
    dev = await device_user(api, username="device-only")
    assert dev["created"] is True
    assert_error(await api.authenticate("email", {"password": "12345678"},
                                        params={"username": "device-only"}), 401, 16, "Invalid credentials.")


async def test_username_rules(api: Api):
    await device_user(api, username="taken-name")
    for kind, account in (("device", {"id": uniq("device")}), ("custom", {"id": uniq("custom")}),
                          ("email", {"email": f"{uniq('taken')}@example.com", "password": PASSWORD})):
        r = await api.authenticate(kind, account, params={"username": "taken-name"})
        assert_error(r, 409, 6, "Username is already in use.")
    # The clash created nothing: the same device can still be created under another name.
    for name, message in (("n" * 129, "Username invalid, must be 1-128 bytes."),
                          ("tab\tname", "Username invalid, no spaces or control characters allowed."),
                          ("new\nline", "Username invalid, no spaces or control characters allowed.")):
        r = await api.authenticate("device", {"id": uniq("device")}, params={"username": name})
        assert_error(r, 400, 3, message)
    # Nakama's username rule lets ordinary spaces and non-ASCII through; 128 bytes is the maximum.
    for name in ("with space", "名前のユーザー", "n" * 128):
        s = await api.login("device", {"id": uniq("device")}, params={"username": name})
        assert claims(s["token"])["usn"] == name
    # The username is checked even for an existing account.
    dev = await device_user(api)
    r = await api.authenticate("device", {"id": dev["device"]}, params={"username": "n" * 129})
    assert_error(r, 400, 3, "Username invalid, must be 1-128 bytes.")


async def test_banned_accounts_are_refused(api: Api, db_address: str):
    dev = await device_user(api)
    cus = await api.login("custom", {"id": "banned-custom"})
    mail = await api.login("email", {"email": "banned@example.com", "password": PASSWORD},
                           params={"username": "banned-mail"})
    for s in (dev, cus, mail):
        await ban(db_address, claims(s["token"])["uid"])

    assert_error(await api.authenticate("device", {"id": dev["device"]}), 403, 7, "User account banned.")
    assert_error(await api.authenticate("custom", {"id": "banned-custom"}), 403, 7, "User account banned.")
    # The ban is checked before the password.
    for password in (PASSWORD, "wrong-password"):
        assert_error(await api.authenticate("email", {"email": "banned@example.com", "password": password}),
                     403, 7, "User account banned.")
        assert_error(await api.authenticate("email", {"password": password},
                                            params={"username": "banned-mail"}),
                     403, 7, "User account banned.")
    assert_error(await api.refresh(dev["refresh_token"]), 403, 7, "User account banned.")


async def test_request_body_conventions(api: Api):
    # camelCase names are read like snake_case ones; unknown fields are ignored.
    device = uniq("device")
    s = await api.login("device", {"id": device, "vars": {"k": "v"}, "unknownField": 1,
                                   "extra": {"nested": [1, 2]}})
    assert claims(s["token"])["vrs"] == {"k": "v"}
    refreshed = assert_ok(await api.call("POST", "/v2/account/session/refresh", auth=basic(),
                                         json_body={"token": s["refresh_token"], "whatever": True}))
    assert set(refreshed) == {"token", "refresh_token"}
    assert_ok(await api.put("/v2/account", s["token"],
                            {"displayName": "Camel", "avatarUrl": "https://x/a.png", "langTag": "fr",
                             "not_a_field": "ignored"}), {})
    user = (await account_of(api, s["token"]))["user"]
    assert (user["display_name"], user["avatar_url"], user["lang_tag"]) == ("Camel", "https://x/a.png", "fr")
    other = assert_ok(await api.authenticate("device", {"id": device}))
    assert_ok(await api.post("/v2/session/logout", other["token"], {"refreshToken": s["refresh_token"]}), {})
    assert_error(await api.refresh(s["refresh_token"]), 401, 16, "Refresh token invalid or expired.")
    s = other

    # Malformed JSON is a code-3 error; truncated input reads "unexpected EOF" like Go's decoder.
    for truncated in (b'{"id": "abcdefghijkl"', b"{", b'{"id"', b'{"id": "abc', b'{"id": ', b"[", b' {"id": "x",'):
        r = await api.call("POST", "/v2/account/authenticate/device", data=truncated, auth=basic())
        assert_error(r, 400, 3, "unexpected EOF")
    r = await api.call("PUT", "/v2/account", data=b'{"display_name": ', auth=bearer(s["token"]))
    assert_error(r, 400, 3, "unexpected EOF")
    r = await api.call("POST", "/v2/account/authenticate/device", data=b'{"id": nope}', auth=basic())
    assert r.status == 400 and r.json["code"] == 3 and set(r.json) == {"code", "message"}


async def test_server_key_is_required_for_authenticate_and_refresh(api: Api):
    s = await device_user(api)
    for path, body in (("/v2/account/authenticate/device", {"id": uniq("device")}),
                       ("/v2/account/authenticate/custom", {"id": uniq("custom")}),
                       ("/v2/account/authenticate/email", {"email": "k@example.com", "password": PASSWORD}),
                       ("/v2/account/session/refresh", {"token": s["refresh_token"]})):
        assert_error(await api.call("POST", path, json_body=body), 401, 16, "Server key required")
        for auth in (basic("wrongkey"), basic(""), "Basic !!!not-base64!!!", "Basic " + "ZGVmYXVsdGtleQ==",
                     bearer(s["token"]), "defaultkey"):
            assert_error(await api.call("POST", path, json_body=body, auth=auth), 401, 16,
                         "Server key invalid")
    # Only the user part is the key: the password is ignored.
    assert assert_ok(await api.authenticate("device", {"id": uniq("device")},
                                            auth=basic("defaultkey", "anything")))["created"] is True


# -- sessions ------------------------------------------------------------------------------------


async def test_session_refresh(api: Api):
    s = await device_user(api, username="refresher", vars={"a": "1"})
    old = verify(s["token"])

    # Without vars, or with {} (nakama-js's default), the old vars are kept.
    for body in ({"token": s["refresh_token"]}, {"token": s["refresh_token"], "vars": {}}):
        r = assert_ok(await api.call("POST", "/v2/account/session/refresh", json_body=body, auth=basic()))
        assert set(r) == {"token", "refresh_token"}
        c, rc = verify(r["token"]), verify(r["refresh_token"], REFRESH_ENCRYPTION_KEY)
        assert (c["tid"], c["uid"], c["usn"], c["vrs"], c["iat"]) == \
            (old["tid"], old["uid"], "refresher", {"a": "1"}, old["iat"])
        assert rc["tid"] == old["tid"] and rc["vrs"] == {"a": "1"}
        assert list(claims(r["token"])) == ["tid", "uid", "usn", "vrs", "exp", "iat"]
        assert (await api.get("/v2/account", r["token"])).status == 200

    # Given vars replace the old ones entirely.
    r = assert_ok(await api.refresh(s["refresh_token"], {"b": "2"}))
    assert verify(r["token"])["vrs"] == {"b": "2"}
    assert verify(r["refresh_token"], REFRESH_ENCRYPTION_KEY)["vrs"] == {"b": "2"}

    # The username is read again: a rename shows up in refreshed tokens.
    assert_ok(await api.put("/v2/account", s["token"], {"username": "renamed"}), {})
    assert claims(s["token"])["usn"] == "refresher"
    r = assert_ok(await api.refresh(s["refresh_token"]))
    assert verify(r["token"])["usn"] == "renamed"
    assert verify(r["refresh_token"], REFRESH_ENCRYPTION_KEY)["usn"] == "renamed"

    # A session token is not a refresh token; garbage neither; an empty one is missing.
    for token in (s["token"], "garbage", "a.b.c"):
        assert_error(await api.refresh(token), 401, 16, "Refresh token invalid or expired.")
    assert_error(await api.refresh(""), 400, 3, "Refresh token is required.")
    r = await api.call("POST", "/v2/account/session/refresh", json_body={}, auth=basic())
    assert_error(r, 400, 3, "Refresh token is required.")
    r = await api.call("POST", "/v2/account/session/refresh", data=b"", auth=basic())
    assert_error(r, 400, 3, "Refresh token is required.")


async def test_logout_given_tokens(api: Api):
    s = await device_user(api)
    other = assert_ok(await api.authenticate("device", {"id": s["device"]}))  # a second session
    r = await api.post("/v2/session/logout", other["token"],
                       {"token": s["token"], "refresh_token": s["refresh_token"]})
    assert_ok(r, {})
    assert_error(await api.get("/v2/account", s["token"]), 401, 16, "Auth token invalid")
    assert_error(await api.refresh(s["refresh_token"]), 401, 16, "Refresh token invalid or expired.")
    # The bearer used for the call is a different session: it lives on.
    assert (await api.get("/v2/account", other["token"])).status == 200
    assert (await api.refresh(other["refresh_token"])).status == 200

    # Logging out your own bearer. Kizuna revokes the session (token id) as a whole, so its refresh
    # token dies with it; Nakama would leave that refresh token usable (a deliberate difference).
    assert_ok(await api.post("/v2/session/logout", other["token"], {"token": other["token"]}), {})
    assert_error(await api.get("/v2/account", other["token"]), 401, 16, "Auth token invalid")
    assert_error(await api.post("/v2/session/logout", other["token"]), 401, 16, "Auth token invalid")
    assert_error(await api.refresh(other["refresh_token"]), 401, 16, "Refresh token invalid or expired.")


async def test_logout_everything(api: Api):
    s1 = await device_user(api)
    s2 = assert_ok(await api.authenticate("device", {"id": s1["device"]}))
    bystander = await device_user(api)
    assert_ok(await api.post("/v2/session/logout", s1["token"]), {})
    for s in (s1, s2):
        assert_error(await api.get("/v2/account", s["token"]), 401, 16, "Auth token invalid")
        assert_error(await api.refresh(s["refresh_token"]), 401, 16, "Refresh token invalid or expired.")
    assert (await api.get("/v2/account", bystander["token"])).status == 200
    assert (await api.refresh(bystander["refresh_token"])).status == 200
    # A new login works again afterwards.
    s3 = assert_ok(await api.authenticate("device", {"id": s1["device"]}))
    assert (await api.get("/v2/account", s3["token"])).status == 200


async def test_logout_rejects_tokens_that_are_not_the_callers(api: Api):
    s = await device_user(api)
    stranger = await device_user(api)
    cases = (({"token": "garbage"}, "Session token invalid."),
             ({"token": s["refresh_token"]}, "Session token invalid."),
             ({"token": stranger["token"]}, "Session token invalid."),
             ({"refresh_token": "garbage"}, "Refresh token invalid."),
             ({"refresh_token": s["token"]}, "Refresh token invalid."),
             ({"refresh_token": stranger["refresh_token"]}, "Refresh token invalid."))
    for body, message in cases:
        assert_error(await api.post("/v2/session/logout", s["token"], body), 400, 3, message)
    # Nothing was revoked by the failed calls.
    for who in (s, stranger):
        assert (await api.get("/v2/account", who["token"])).status == 200
        assert (await api.refresh(who["refresh_token"])).status == 200
    assert_error(await api.call("POST", "/v2/session/logout", json_body={}), 401, 16, "Auth token required")


# -- the account ---------------------------------------------------------------------------------


async def test_get_account_exact_body(api: Api, db_address: str):
    s = await api.login("device", {"id": "wire-device-0001-abcdef"}, params={"username": "alice01"})
    uid = claims(s["token"])["uid"]
    r = await api.get("/v2/account", s["token"])
    row = (await sql(db_address, "SELECT create_time, update_time FROM users WHERE id = $1", uid))[0]
    assert_ok(r, {"user": {"id": uid, "username": "alice01", "lang_tag": "en", "metadata": "{}",
                           "create_time": rfc3339(row["create_time"]),
                           "update_time": rfc3339(row["update_time"])},
                  "wallet": "{}", "devices": [{"id": "wire-device-0001-abcdef"}]})
    assert r.headers["Grpc-Metadata-Content-Type"] == "application/grpc"

    # Email and custom id appear once linked; several devices are listed; times are RFC 3339 Z.
    assert_ok(await api.post("/v2/account/link/email", s["token"],
                             {"email": "Alice@Example.com", "password": PASSWORD}), {})
    assert_ok(await api.post("/v2/account/link/custom", s["token"], {"id": "alice-custom"}), {})
    assert_ok(await api.post("/v2/account/link/device", s["token"], {"id": "wire-device-0002-abcdef"}), {})
    doc = await account_of(api, s["token"])
    row = (await sql(db_address, "SELECT create_time, update_time FROM users WHERE id = $1", uid))[0]
    devices = doc.pop("devices")
    assert doc == {"user": {"id": uid, "username": "alice01", "lang_tag": "en", "metadata": "{}",
                            "create_time": rfc3339(row["create_time"]),
                            "update_time": rfc3339(row["update_time"])},
                   "wallet": "{}", "email": "alice@example.com", "custom_id": "alice-custom"}
    assert sorted(devices, key=lambda d: d["id"]) == [{"id": "wire-device-0001-abcdef"},
                                                      {"id": "wire-device-0002-abcdef"}]
    assert all(set(d) == {"id"} for d in devices)
    for t in (doc["user"]["create_time"], doc["user"]["update_time"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t)

    # A ban is never shown to the player, and no password or verify time leaks.
    await ban(db_address, uid)
    doc = await account_of(api, s["token"])
    assert "disable_time" not in doc and "verify_time" not in doc and "password" not in str(doc)

    # Auth failures.
    assert_error(await api.call("GET", "/v2/account"), 401, 16, "Auth token required")
    assert_error(await api.call("GET", "/v2/account", auth="Bearer garbage"), 401, 16, "Auth token invalid")
    assert_error(await api.call("GET", "/v2/account", auth=basic()), 401, 16, "Auth token invalid")


async def test_update_account(api: Api):
    s = await device_user(api, username="updater")
    fields = {"display_name": "Dee", "avatar_url": "https://example.com/a.png", "lang_tag": "de",
              "location": "Berlin", "timezone": "Europe/Berlin"}
    assert_ok(await api.put("/v2/account", s["token"], fields), {})
    user = (await account_of(api, s["token"]))["user"]
    assert {k: user.get(k) for k in fields} == fields and user["username"] == "updater"

    # Absent fields are unchanged; an empty string clears a field, which then leaves the JSON.
    assert_ok(await api.put("/v2/account", s["token"], {"display_name": "", "location": ""}), {})
    user = (await account_of(api, s["token"]))["user"]
    assert "display_name" not in user and "location" not in user
    assert (user["avatar_url"], user["lang_tag"], user["timezone"]) == \
        ("https://example.com/a.png", "de", "Europe/Berlin")
    # Identical values are fine too.
    assert_ok(await api.put("/v2/account", s["token"], {"timezone": "Europe/Berlin"}), {})

    assert_error(await api.put("/v2/account", s["token"], {}), 400, 3, "No fields to update.")
    assert_error(await api.put("/v2/account", s["token"], {"unknown": "x"}), 400, 3, "No fields to update.")
    assert_error(await api.call("PUT", "/v2/account", data=b"", auth=bearer(s["token"])),
                 400, 3, "No fields to update.")

    await device_user(api, username="someone-else")
    assert_error(await api.put("/v2/account", s["token"], {"username": "someone-else"}),
                 400, 3, "Username is already in use.")
    assert_error(await api.put("/v2/account", s["token"], {"username": ""}),
                 400, 3, "Username invalid, must be 1-128 bytes.")
    assert_error(await api.put("/v2/account", s["token"], {"username": "u" * 129}),
                 400, 3, "Username invalid, must be 1-128 bytes.")
    assert_error(await api.put("/v2/account", s["token"], {"username": "bad\tname"}),
                 400, 3, "Username invalid, no spaces or control characters allowed.")
    # A failed update changes nothing.
    assert (await account_of(api, s["token"]))["user"]["username"] == "updater"

    assert_ok(await api.put("/v2/account", s["token"], {"username": "updated"}), {})
    assert (await account_of(api, s["token"]))["user"]["username"] == "updated"
    # The old name is free again.
    assert (await api.authenticate("device", {"id": uniq("device")}, params={"username": "updater"})).status == 200
    assert_error(await api.call("PUT", "/v2/account", json_body={"display_name": "x"}),
                 401, 16, "Auth token required")


async def test_delete_account(api: Api, db_address: str):
    s = await device_user(api, username="doomed")
    s2 = assert_ok(await api.authenticate("device", {"id": s["device"]}))
    friend = await device_user(api)
    assert_ok(await api.delete("/v2/account", s["token"]), {})

    for sess in (s, s2):
        assert_error(await api.get("/v2/account", sess["token"]), 401, 16, "Auth token invalid")
        assert_error(await api.refresh(sess["refresh_token"]), 401, 16, "Refresh token invalid or expired.")
    assert_ok(await api.get("/v2/user", friend["token"], params={"ids": s["uid"]}), {})
    assert await sql(db_address, "SELECT 1 FROM user_device WHERE user_id = $1", s["uid"]) == []
    # The device and the username are free again: a new, different account.
    assert_error(await api.authenticate("device", {"id": s["device"]}, params={"create": "false"}),
                 404, 5, "User account not found.")
    again = assert_ok(await api.authenticate("device", {"id": s["device"]}, params={"username": "doomed"}))
    assert again["created"] is True and claims(again["token"])["uid"] != s["uid"]
    assert (await api.get("/v2/account", friend["token"])).status == 200


# -- link / unlink -------------------------------------------------------------------------------


async def test_link_and_unlink_device(api: Api):
    a = await device_user(api)
    b = await device_user(api)
    for body, message in (({}, "Device ID is required."),
                          ({"id": "short"}, "Device ID invalid, must be 10-128 bytes."),
                          ({"id": "with a space"}, "Device ID invalid, no spaces or control characters allowed.")):
        assert_error(await api.post("/v2/account/link/device", a["token"], body), 400, 3, message)

    assert_ok(await api.post("/v2/account/link/device", a["token"], {"id": "second-device-of-a"}), {})
    assert_ok(await api.post("/v2/account/link/device", a["token"], {"id": "second-device-of-a"}), {})
    assert_error(await api.post("/v2/account/link/device", b["token"], {"id": "second-device-of-a"}),
                 409, 6, "Device ID already in use.")
    assert_error(await api.post("/v2/account/link/device", b["token"], {"id": a["device"]}),
                 409, 6, "Device ID already in use.")
    devices = sorted(d["id"] for d in (await account_of(api, a["token"]))["devices"])
    assert devices == sorted([a["device"], "second-device-of-a"])
    assert [d["id"] for d in (await account_of(api, b["token"]))["devices"]] == [b["device"]]
    # The linked device logs into a's account.
    s = assert_ok(await api.authenticate("device", {"id": "second-device-of-a"}))
    assert "created" not in s and claims(s["token"])["uid"] == a["uid"]

    assert_error(await api.post("/v2/account/unlink/device", a["token"], {}), 400, 3,
                 "A device ID must be supplied.")
    assert_error(await api.post("/v2/account/unlink/device", a["token"], {"id": b["device"]}), 403, 7, LAST_LINK)
    assert_error(await api.post("/v2/account/unlink/device", a["token"], {"id": "never-linked-id"}),
                 403, 7, LAST_LINK)
    assert_ok(await api.post("/v2/account/unlink/device", a["token"], {"id": "second-device-of-a"}), {})
    assert [d["id"] for d in (await account_of(api, a["token"]))["devices"]] == [a["device"]]
    assert_error(await api.post("/v2/account/unlink/device", a["token"], {"id": a["device"]}), 403, 7, LAST_LINK)
    assert [d["id"] for d in (await account_of(api, a["token"]))["devices"]] == [a["device"]]
    # b still owns its device.
    assert [d["id"] for d in (await account_of(api, b["token"]))["devices"]] == [b["device"]]


async def test_link_and_unlink_custom(api: Api):
    a = await device_user(api)
    b = await device_user(api)
    for body, message in (({}, "Custom ID is required."),
                          ({"id": "12345"}, "Invalid custom ID, must be 6-128 bytes."),
                          ({"id": "with space"}, "Invalid custom ID, no spaces or control characters allowed.")):
        assert_error(await api.post("/v2/account/link/custom", a["token"], body), 400, 3, message)
    assert_ok(await api.post("/v2/account/link/custom", a["token"], {"id": "custom-of-a"}), {})
    assert_ok(await api.post("/v2/account/link/custom", a["token"], {"id": "custom-of-a"}), {})
    assert_error(await api.post("/v2/account/link/custom", b["token"], {"id": "custom-of-a"}),
                 409, 6, "Custom ID is already in use.")
    assert "custom_id" not in await account_of(api, b["token"])
    # Linking replaces the previous custom id.
    assert_ok(await api.post("/v2/account/link/custom", a["token"], {"id": "custom-of-a-2"}), {})
    assert (await account_of(api, a["token"]))["custom_id"] == "custom-of-a-2"
    assert_error(await api.authenticate("custom", {"id": "custom-of-a"}, params={"create": "false"}),
                 404, 5, "User account not found.")
    s = assert_ok(await api.authenticate("custom", {"id": "custom-of-a-2"}))
    assert claims(s["token"])["uid"] == a["uid"]

    assert_error(await api.post("/v2/account/unlink/custom", a["token"], {"id": "not-the-one"}), 403, 7, LAST_LINK)
    assert_ok(await api.post("/v2/account/unlink/custom", a["token"], {"id": "custom-of-a-2"}), {})
    assert "custom_id" not in await account_of(api, a["token"])

    # An account with only a custom id cannot drop it.
    c = await api.login("custom", {"id": "only-custom"})
    assert_error(await api.post("/v2/account/unlink/custom", c["token"], {"id": "only-custom"}), 403, 7, LAST_LINK)
    assert_error(await api.post("/v2/account/unlink/custom", c["token"], {}), 403, 7, LAST_LINK)
    assert (await account_of(api, c["token"]))["custom_id"] == "only-custom"


async def test_link_and_unlink_email(api: Api):
    a = await device_user(api)
    b = await device_user(api)
    for body, message in (({}, "Email address and password is required."),
                          ({"email": "a-user@example.com"}, "Email address and password is required."),
                          ({"email": "bad mail@example.com", "password": PASSWORD},
                           "Invalid email address, no spaces or control characters allowed."),
                          ({"email": "not-an-email", "password": "short"},
                           "Password must be at least 8 characters long."),  # password first, here
                          ({"email": "not-an-email", "password": PASSWORD}, "Invalid email address format."),
                          ({"email": "a@b.co", "password": PASSWORD}, "Invalid email address, must be 10-255 bytes.")):
        assert_error(await api.post("/v2/account/link/email", a["token"], body), 400, 3, message)

    assert_ok(await api.post("/v2/account/link/email", a["token"],
                             {"email": "A-User@Example.com", "password": PASSWORD}), {})
    assert (await account_of(api, a["token"]))["email"] == "a-user@example.com"
    assert_error(await api.post("/v2/account/link/email", b["token"],
                                {"email": "a-user@example.com", "password": PASSWORD}),
                 409, 6, "Email is already in use.")
    assert_error(await api.post("/v2/account/link/email", b["token"],
                                {"email": "A-USER@example.com", "password": PASSWORD}),
                 409, 6, "Email is already in use.")
    # Relinking the same email to the same user is fine and replaces the password.
    assert_ok(await api.post("/v2/account/link/email", a["token"],
                             {"email": "a-user@example.com", "password": "new-password"}), {})
    assert_error(await api.authenticate("email", {"email": "a-user@example.com", "password": PASSWORD}),
                 401, 16, "Invalid credentials.")
    s = assert_ok(await api.authenticate("email", {"email": "a-user@example.com", "password": "new-password"}))
    assert "created" not in s and claims(s["token"])["uid"] == a["uid"]

    assert_error(await api.post("/v2/account/unlink/email", a["token"], {"email": "other@example.com"}),
                 403, 7, LAST_LINK)
    assert_ok(await api.post("/v2/account/unlink/email", a["token"],
                             {"email": "A-User@Example.com", "password": "ignored!"}), {})
    assert "email" not in await account_of(api, a["token"])
    assert_error(await api.authenticate("email", {"email": "a-user@example.com", "password": "new-password"},
                                        params={"create": "false"}), 404, 5, "User account not found.")

    e = await api.login("email", {"email": "only-mail@example.com", "password": PASSWORD})
    assert_error(await api.post("/v2/account/unlink/email", e["token"],
                                {"email": "only-mail@example.com", "password": PASSWORD}), 403, 7, LAST_LINK)
    assert (await account_of(api, e["token"]))["email"] == "only-mail@example.com"
    # Once a second identifier exists, the email can go.
    assert_ok(await api.post("/v2/account/link/device", e["token"], {"id": uniq("device")}), {})
    assert_ok(await api.post("/v2/account/unlink/email", e["token"], {}), {})
    assert "email" not in await account_of(api, e["token"])


async def test_link_endpoints_need_a_session(api: Api):
    for path in ("/v2/account/link/device", "/v2/account/link/custom", "/v2/account/link/email",
                 "/v2/account/unlink/device", "/v2/account/unlink/custom", "/v2/account/unlink/email"):
        assert_error(await api.call("POST", path, json_body={"id": uniq("device")}), 401, 16,
                     "Auth token required")
        assert_error(await api.call("POST", path, json_body={}, auth=basic()), 401, 16, "Auth token invalid")


# The providers Kizuna does not serve yet: path segment -> the name in the 501 message.
UNSUPPORTED_PROVIDERS = {"apple": "Apple", "facebook": "Facebook",
                         "facebookinstantgame": "Facebook Instant Game",
                         "gamecenter": "GameCenter", "google": "Google", "steam": "Steam"}
# A body each provider's client would send (the values are never checked: nothing is served).
PROVIDER_BODIES = {
    "apple": {"token": "apple-id-token"}, "facebook": {"token": "fb-access-token"},
    "facebookinstantgame": {"signed_player_info": "a.b"},
    "gamecenter": {"player_id": "G:1", "bundle_id": "com.example", "timestamp_seconds": 1,
                   "salt": "c2FsdA==", "signature": "c2ln", "public_key_url": "https://x"},
    "google": {"token": "google-id-token"}, "steam": {"token": "steam-ticket"},
}


async def test_other_providers_answer_501_for_authenticate_link_and_unlink(api: Api,
                                                                          db_address: str):
    """Apple, Facebook, Facebook Instant Games, Game Center, Google and Steam: authenticate, link
    and unlink answer 501 code 12 naming the provider, with or without `create`/`sync`, and
    change nothing (no account created, the caller's account as it was); so do the Facebook and
    Steam friend imports."""
    s = await device_user(api)
    users_before = (await sql(db_address, "SELECT count(*) AS n FROM users"))[0]["n"]
    account_before = await account_of(api, s["token"])
    for path, name in UNSUPPORTED_PROVIDERS.items():
        message = f"{name} accounts are not supported by this server yet."
        body = PROVIDER_BODIES[path]
        for params in (None, {"create": "true"}, {"create": "false", "username": uniq("u")}):
            r = await api.authenticate(path, body, params=params)
            assert_error(r, 501, 12, message)
        for verb in ("link", "unlink"):
            for params in (None, {"sync": "true"}):
                r = await api.post(f"/v2/account/{verb}/{path}", s["token"], body, params=params)
                assert_error(r, 501, 12, message)
    for path, name in (("facebook", "Facebook"), ("steam", "Steam")):
        for params in (None, {"reset": "true"}):
            r = await api.post(f"/v2/friend/{path}", s["token"], PROVIDER_BODIES[path],
                               params=params)
            assert_error(r, 501, 12, f"{name} accounts are not supported by this server yet.")
    assert (await sql(db_address, "SELECT count(*) AS n FROM users"))[0]["n"] == users_before
    assert await account_of(api, s["token"]) == account_before


# -- users ---------------------------------------------------------------------------------------


async def test_get_users(api: Api, db_address: str):
    a = await device_user(api, username="user-a")
    b = await device_user(api, username="user-b")
    c = await device_user(api, username="User-C")
    assert_ok(await api.post("/v2/account/link/email", a["token"],
                             {"email": "ua@example.com", "password": PASSWORD}), {})
    rows = {str(r["id"]): r for r in await sql(
        db_address, "SELECT id, create_time, update_time FROM users WHERE username = ANY($1)",
        ["user-a", "user-b", "User-C"])}

    def user(s, name):
        row = rows[s["uid"]]
        return {"id": s["uid"], "username": name, "lang_tag": "en", "metadata": "{}",
                "create_time": rfc3339(row["create_time"]), "update_time": rfc3339(row["update_time"])}

    def by_name(doc):
        assert set(doc) == {"users"}
        return sorted(doc["users"], key=lambda u: u["username"])

    r = assert_ok(await api.get("/v2/user", a["token"], params=[("ids", a["uid"]), ("ids", b["uid"]),
                                                              ("usernames", "User-C"), ("usernames", "user-a"),
                                                              ("ids", str(uuid.uuid4())), ("usernames", "ghost")]))
    # email, devices, wallet etc. are not part of a User; duplicates collapse; unknowns are omitted.
    assert by_name(r) == sorted([user(c, "User-C"), user(a, "user-a"), user(b, "user-b")],
                              key=lambda u: u["username"])
    # Usernames match exactly.
    assert_ok(await api.get("/v2/user", a["token"], params={"usernames": "user-c"}), {})
    assert_ok(await api.get("/v2/user", a["token"], params={"usernames": "ghost"}), {})
    assert_ok(await api.get("/v2/user", a["token"]), {})

    r = await api.get("/v2/user", a["token"], params=[("ids", a["uid"]), ("ids", "x")])
    assert_error(r, 400, 3, "ID 'x' is not a valid system ID.")
    r = await api.get("/v2/user", a["token"], params={"ids": "not-a-uuid"})
    assert_error(r, 400, 3, "ID 'not-a-uuid' is not a valid system ID.")
    assert_error(await api.call("GET", "/v2/user", params={"ids": a["uid"]}), 401, 16, "Auth token required")


# -- transport -----------------------------------------------------------------------------------


async def test_routing_errors(api: Api):
    s = await device_user(api)
    for method, path in (("GET", "/v2/nope"), ("POST", "/v2/account/authenticate/nothing"), ("GET", "/nope")):
        assert_error(await api.call(method, path, auth=bearer(s["token"])), 404, 5, "Not Found")
    for method, path in (("GET", "/v2/account/authenticate/device"), ("PATCH", "/v2/account"),
                         ("POST", "/v2/user"), ("DELETE", "/v2/session/logout")):
        assert_error(await api.call(method, path, auth=bearer(s["token"])), 501, 12, "Method Not Allowed")
    r = await api.call("HEAD", "/v2/account", auth=bearer(s["token"]))
    assert r.status == 501 and r.headers["Content-Type"].startswith("application/json")


async def test_gzip_responses(api: Api):
    s = await device_user(api)
    # Without Accept-Encoding: plain JSON.
    r = await api.get("/v2/account", s["token"])
    assert "Content-Encoding" not in r.headers and r.json["user"]["id"] == s["uid"]

    async def raw(path, auth, accept):
        async with (aiohttp.ClientSession(auto_decompress=False) as http,
                    http.get(api.base_url + path, headers={"Authorization": auth,
                                                           "Accept-Encoding": accept}) as resp):
            return resp.status, resp.headers, await resp.read()

    for accept in ("gzip", "gzip, deflate, br"):
        status, headers, body = await raw("/v2/account", bearer(s["token"]), accept)
        assert status == 200 and headers["Content-Encoding"] == "gzip", (accept, headers)
        assert headers["Cache-Control"] == NO_CACHE and "Accept-Encoding" in headers["Vary"]
        assert headers["Content-Type"].startswith("application/json")
        import json
        assert json.loads(gzip.decompress(body))["user"]["id"] == s["uid"]
    # Even the 2-byte `{}` and errors are compressed.
    status, headers, body = await raw("/healthcheck", "", "gzip")
    assert (status, headers["Content-Encoding"], gzip.decompress(body)) == (200, "gzip", b"{}")
    status, headers, body = await raw("/v2/account", "Bearer nope", "gzip")
    assert (status, headers["Content-Encoding"]) == (401, "gzip")
    assert gzip.decompress(body) in (b'{"code":16,"message":"Auth token invalid"}',
                                     b'{"code":16, "message":"Auth token invalid"}')
    status, headers, body = await raw("/v2/account", bearer(s["token"]), "deflate")
    assert (status, headers["Content-Encoding"]) == (200, "deflate")
    # "deflate" may be zlib-wrapped (RFC 9110) or raw (what Go's compress/flate writes): accept both.
    try:
        inflated = zlib.decompress(body)
    except zlib.error:
        inflated = zlib.decompress(body, -zlib.MAX_WBITS)
    assert b'"user"' in inflated

    # gzip-compressed request bodies are accepted too.
    r = await api.call("POST", "/v2/account/authenticate/custom", auth=basic(),
                       data=gzip.compress(b'{"id": "gzipped-custom-id"}'),
                       headers={"Content-Encoding": "gzip"})
    assert assert_ok(r)["created"] is True
    r = await api.call("PUT", "/v2/account", auth=bearer(s["token"]),
                       data=gzip.compress(b'{"display_name": "zipped"}'), headers={"Content-Encoding": "gzip"})
    assert_ok(r, {})
    assert (await account_of(api, s["token"]))["user"]["display_name"] == "zipped"


async def test_cors_and_cache_headers(api: Api):
    s = await device_user(api)
    r = await api.call("OPTIONS", "/v2/account", headers={
        "Origin": "https://game.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert r.status == 200 and r.body == b""
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    r = await api.call("OPTIONS", "/v2/account/authenticate/device", headers={
        "Origin": "https://game.example", "Access-Control-Request-Method": "POST"})
    assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "*"

    # A request with an Origin gets the allow-origin header, on success and on error.
    r = await api.call("GET", "/v2/account", auth=bearer(s["token"]), headers={"Origin": "https://game.example"})
    assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    r = await api.call("GET", "/v2/account", headers={"Origin": "https://game.example"})
    assert_error(r, 401, 16, "Auth token required")
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    # Without an Origin, no CORS headers.
    assert "Access-Control-Allow-Origin" not in (await api.get("/v2/account", s["token"])).headers

    # Cache-Control on every gateway response, success or error (assert_ok/assert_error check it).
    assert_ok(await api.get("/v2/account", s["token"]))
    assert_ok(await api.call("GET", "/healthcheck"), {})
    assert_error(await api.call("GET", "/v2/nope"), 404, 5, "Not Found")
    assert_error(await api.call("GET", "/v2/account/authenticate/device"), 501, 12, "Method Not Allowed")
    assert_error(await api.authenticate("device", {"id": "short"}), 400, 3, "Device ID invalid, must be 10-128 bytes.")
    assert "Grpc-Metadata-Content-Type" not in (await api.authenticate("device", {"id": "short"})).headers


async def test_request_body_limit(server_factory, db_address: str):
    srv = server_factory("--migrate", "--database.address", db_address, "--logger.format", "text",
                         "--socket.max_request_size_bytes", "1024")
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        api = Api(srv.url, http)
        s = await device_user(api)
        big = {"id": uniq("device"), "vars": {"pad": "x" * 2000}}
        r = await api.authenticate("device", big)
        assert r.status == 400 and r.json["code"] == 3 and set(r.json) == {"code", "message"}, r
        assert r.headers["Cache-Control"] == NO_CACHE
        r = await api.put("/v2/account", s["token"], {"display_name": "y" * 5000})
        assert r.status == 400 and r.json["code"] == 3, r
        # Chunked (no Content-Length) too.
        async def chunks():
            for _ in range(4):
                yield b" " * 512
            yield b'{"display_name": "z"}'
        async with http.put(srv.url + "/v2/account", data=chunks(),
                            headers={"Authorization": bearer(s["token"])}) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 3
        # Under the limit all is well, and the server is still healthy.
        assert_ok(await api.put("/v2/account", s["token"], {"display_name": "y" * 200}), {})
        assert (await account_of(api, s["token"]))["user"]["display_name"] == "y" * 200
