"""Testing server modules without a running server (docs/runtime.md, "Testing your modules").

    from kizuna.testing import ModuleHarness

    def test_daily_reward():
        with ModuleHarness("modules/daily_reward.py") as h:
            alice = h.user("alice")
            assert h.rpc_json("claim_daily_reward", {}, user_id=alice)["coins"] == 100

`ModuleHarness` loads a module as the server does (its `init_module` included) and gives `nk` on
a fresh PostgreSQL database migrated with this release's migrations, dropped on close. With pytest,
the `kizuna_module` fixture (kizuna/testing/plugin.py, registered as a pytest plugin when Kizuna is
installed) opens harnesses and closes them after the test:

    def test_claim(kizuna_module):
        h = kizuna_module("modules/daily_reward.py")
"""

from kizuna.testing.harness import DEFAULT_DATABASE, HarnessError, LoadFailed, ModuleHarness, User

__all__ = ["DEFAULT_DATABASE", "HarnessError", "LoadFailed", "ModuleHarness", "User"]
