"""Tests of the daily reward module, run against a real database with kizuna.testing.

    pytest docs/examples/daily_reward/tests

Each test gets the module loaded as the server loads it (init_module included) on a fresh
PostgreSQL database ($KZ_TEST_PG, else postgres@127.0.0.1:5432), dropped afterwards.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest

from kizuna.runtime import Code, Error
from kizuna.testing import LoadFailed, ModuleHarness

MODULE = Path(__file__).resolve().parent.parent / "modules" / "daily_reward.py"
DAY = date(2024, 5, 1)


@pytest.fixture
def rewards(kizuna_module, monkeypatch) -> ModuleHarness:
    """The module, with its clock stopped at DAY (move it with `set_day`)."""
    h = kizuna_module(MODULE)
    set_day(h, monkeypatch, DAY)
    return h


def set_day(h: ModuleHarness, monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    monkeypatch.setattr(h.module(), "today", lambda: day)


def test_a_claim_pays_coins_into_the_wallet_and_records_the_day(rewards):
    alice = rewards.user("alice")
    assert rewards.rpc_json("claim_daily_reward", {}, user_id=alice) == {
        "coins": 100, "streak": 1, "balance": 100}

    # What the RPC left behind, read with nk on the same database.
    nk = rewards.nk
    assert nk.account_get_id(alice.id)["wallet"] == {"coins": 100}
    items, _cursor = nk.wallet_ledger_list(alice.id)
    assert [(i["changeset"], i["metadata"]) for i in items] == [
        ({"coins": 100}, {"reason": "daily_reward", "day": "2024-05-01"})]
    [state] = nk.storage_read([{"collection": "rewards", "key": "daily", "user_id": alice.id}])
    assert state["value"] == {"day": "2024-05-01", "streak": 1}
    assert (state["permission_read"], state["permission_write"]) == (1, 0)


def test_a_second_claim_the_same_day_is_refused(rewards):
    bob = rewards.user()
    rewards.rpc("claim_daily_reward", user_id=bob)
    with pytest.raises(Error) as refused:
        rewards.rpc("claim_daily_reward", user_id=bob)
    assert (refused.value.code, refused.value.message) == (
        Code.FAILED_PRECONDITION, "Today's reward was already claimed.")
    assert rewards.nk.account_get_id(bob.id)["wallet"] == {"coins": 100}  # paid once


def test_the_streak_grows_day_after_day_and_breaks_after_a_gap(rewards, monkeypatch):
    carol = rewards.user()
    paid = []
    for offset in (0, 1, 2, 4):  # three days in a row, then a day missed
        set_day(rewards, monkeypatch, DAY + timedelta(days=offset))
        paid.append(rewards.rpc_json("claim_daily_reward", user_id=carol)["coins"])
    assert paid == [100, 200, 300, 100]
    assert rewards.nk.account_get_id(carol.id)["wallet"] == {"coins": 700}


def test_the_status_rpc_is_a_coroutine_reading_the_same_state(rewards):
    dave = rewards.user()
    assert rewards.rpc_json("daily_reward_status", user_id=dave) == {
        "claimed_today": False, "streak": 0}
    rewards.rpc("claim_daily_reward", user_id=dave)
    assert rewards.rpc_json("daily_reward_status", user_id=dave) == {
        "claimed_today": True, "streak": 1}


def test_a_call_without_a_session_is_refused(rewards):
    # e.g. an RPC called with the HTTP key: ctx.user_id is None
    with pytest.raises(Error) as refused:
        rewards.rpc("claim_daily_reward")
    assert refused.value.code == Code.UNAUTHENTICATED


@pytest.mark.asyncio
async def test_racing_claims_pay_once(rewards):
    # An async test: `harness.aio` has the same calls as coroutines.
    erin = await rewards.aio.user()
    results = await asyncio.gather(
        *(rewards.aio.rpc("claim_daily_reward", user_id=erin) for _ in range(5)),
        return_exceptions=True)
    refused = [r for r in results if isinstance(r, Error)]
    assert len(refused) == 4 and {e.code for e in refused} == {Code.FAILED_PRECONDITION}
    account = await rewards.nk.aio.account_get_id(erin.id)
    assert account["wallet"] == {"coins": 100}


def test_clients_cannot_write_the_reward_state(rewards):
    frank = rewards.user()
    request = {"objects": [{"collection": "rewards", "key": "daily", "value": "{}"}]}
    with pytest.raises(Error) as refused:
        rewards.before("WriteStorageObjects", request, user_id=frank)
    assert refused.value.code == Code.PERMISSION_DENIED
    other = {"objects": [{"collection": "saves", "key": "slot1", "value": "{}"}]}
    assert rewards.before("WriteStorageObjects", other, user_id=frank) == other


def test_the_reward_comes_from_the_runtime_env(kizuna_module):
    h = kizuna_module(MODULE, env={"DAILY_REWARD_COINS": "25"})
    assert h.rpc_json("claim_daily_reward", user_id=h.user())["coins"] == 25


def test_a_bad_setting_fails_the_load(kizuna_module):
    with pytest.raises(LoadFailed, match=r"daily_reward\.py:\d+: ValueError"):
        kizuna_module(MODULE, env={"DAILY_REWARD_COINS": "lots"})
