"""The pytest plugin of kizuna.testing: the `kizuna_module` fixture.

Registered under the `pytest11` entry point (pyproject.toml), so any project with Kizuna installed
has the fixture. It imports nothing of Kizuna until a test asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kizuna.testing.harness import ModuleHarness


@pytest.fixture
def kizuna_module() -> Iterator[Callable[..., ModuleHarness]]:
    """Open a `ModuleHarness` on a module file, package or modules directory, closed (shutdown
    functions run, database dropped) when the test ends:

        def test_claim(kizuna_module):
            h = kizuna_module("modules/daily_reward.py", env={"REWARD": "100"})
            assert h.rpc_json("claim_daily_reward", user_id=h.user())["coins"] == 100

    Options as ModuleHarness: `env`, `database` (default $KZ_TEST_PG, else
    postgres@127.0.0.1:5432), `flags`. Works in sync and async tests alike.
    """
    from kizuna.testing.harness import ModuleHarness

    opened: list[ModuleHarness] = []

    def open_module(path: str | os.PathLike[str], **options: Any) -> ModuleHarness:
        harness = ModuleHarness(path, **options).start()
        opened.append(harness)
        return harness

    yield open_module
    errors: list[BaseException] = []
    for harness in reversed(opened):
        try:
            harness.close()
        except Exception as exc:  # close the others too
            errors.append(exc)
    if errors:
        raise errors[0]
