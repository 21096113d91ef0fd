"""Any valid node name runs with any number of workers: a worker (KIZUNA_WORKER set by its
supervisor) may have a name longer than `name`'s 16 characters by its `-<i>` suffix."""

from __future__ import annotations

import pytest

from kizuna import config


def test_a_sixteen_character_name_gets_worker_suffixes() -> None:
    assert config.load(["--name", "kizuna-eu-west-1"], env={}).name == "kizuna-eu-west-1"
    worker = config.load(["--name", "kizuna-eu-west-1-15"], env={"KIZUNA_WORKER": "15"})
    assert worker.name == "kizuna-eu-west-1-15"


def test_a_node_that_is_not_a_worker_keeps_the_limit() -> None:
    with pytest.raises(config.ConfigError, match="name: must be 1 to 16 characters"):
        config.load(["--name", "kizuna-eu-west-1-1"], env={})
    with pytest.raises(config.ConfigError, match="name: must be 1 to 20 characters"):
        config.load(["--name", "x" * 21], env={"KIZUNA_WORKER": "0"})
