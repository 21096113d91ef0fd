"""The console's sign-in rules (lock-out, tokens, Basic) and the User-Agent parsing of the node
stats, without a server."""

from __future__ import annotations

import base64

import pytest

from kizuna.config import Config
from kizuna.console.auth import LOCK_SEC, MAX_USER_FAILURES, ConsoleAuth
from kizuna.errors import Code, KizunaError
from kizuna.ops.nodestats import NodeStats, parse_user_agent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def auth(clock: Clock | None = None, **console) -> ConsoleAuth:
    cfg = Config()
    for k, v in console.items():
        setattr(cfg.console, k, v)
    return ConsoleAuth(cfg, clock=clock or Clock())


def test_right_credentials_give_a_token_that_verifies() -> None:
    a = auth()
    token = a.authenticate("admin", "password", "10.0.0.1")
    assert a.verify_token(token).username == "admin"
    assert a.default_password


def test_a_username_is_locked_after_repeated_failures_then_released() -> None:
    clock = Clock()
    a = auth(clock)
    for _ in range(MAX_USER_FAILURES):
        with pytest.raises(KizunaError) as e:
            a.authenticate("admin", "nope", "10.0.0.1")
        assert e.value.code == Code.UNAUTHENTICATED
    with pytest.raises(KizunaError) as e:  # the right password, but locked
        a.authenticate("admin", "password", "10.0.0.2")
    assert e.value.code == Code.RESOURCE_EXHAUSTED
    clock.now += LOCK_SEC + 1
    assert a.authenticate("admin", "password", "10.0.0.2")


def test_a_success_clears_the_failures() -> None:
    a = auth()
    for _ in range(MAX_USER_FAILURES - 1):
        with pytest.raises(KizunaError):
            a.authenticate("admin", "nope", "10.0.0.1")
    a.authenticate("admin", "password", "10.0.0.1")
    for _ in range(MAX_USER_FAILURES - 1):
        with pytest.raises(KizunaError):
            a.authenticate("admin", "nope", "10.0.0.1")
    assert a.authenticate("admin", "password", "10.0.0.1")


def test_tokens_of_another_key_or_operator_are_refused() -> None:
    token = auth(signing_key="one-key").issue("admin")
    with pytest.raises(KizunaError):
        auth(signing_key="another-key").verify_token(token)
    renamed = auth(username="ops").issue("ops")
    with pytest.raises(KizunaError):
        auth().verify_token(renamed)  # console.username changed since: no longer an operator


def test_basic_credentials() -> None:
    a = auth(password="s3cret-pass")
    good = base64.b64encode(b"admin:s3cret-pass").decode()
    assert a.from_header(f"Basic {good}", "1.2.3.4").username == "admin"
    for header in ("Basic " + base64.b64encode(b"admin:x").decode(), "Basic !!!", "Token x", ""):
        with pytest.raises(KizunaError) as e:
            a.from_header(header, "1.2.3.4")
        assert e.value.code == Code.UNAUTHENTICATED
    assert not a.default_password


@pytest.mark.parametrize(("agent", "expected"), [
    ("nakama-js/2.8.0", ("nakama-js", "2.8.0")),
    ("UnityPlayer/2022.3.10f1 (UnityWebRequest/1.0, libcurl/8.1.1-DEV)", ("nakama-unity", "2022.3.10f1")),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36", ("browser", "")),
    ("node", ("node", "")),
    ("curl/8.5.0", ("curl", "8.5.0")),
    ("", ("(none)", "")),
])
def test_user_agents(agent: str, expected: tuple[str, str]) -> None:
    assert parse_user_agent(agent) == expected


def test_client_counts_are_handed_over_once_and_bounded() -> None:
    stats = NodeStats()
    for _ in range(3):
        stats.saw_client("nakama-js/2.8.0")
    for i in range(500):
        stats.saw_client(f"tool{i}/1.0")
    taken = stats.take_clients()
    assert taken[("nakama-js", "2.8.0")][0] == 3
    assert len(taken) <= 200
    assert stats.take_clients() == {}


def test_rates_average_over_the_window() -> None:
    stats = NodeStats(state=lambda: {"session_count": 7})
    for _ in range(10):
        stats.record(0.010, 100, 1000)
    snap = stats.snapshot()
    assert snap["avg_latency_ms"] == pytest.approx(10.0)
    assert snap["avg_rate_sec"] > 0 and snap["session_count"] == 7
    assert stats.snapshot()["avg_latency_ms"] == 0.0  # a new window: nothing since
