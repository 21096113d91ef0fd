"""deploy/docker-compose.cluster.yml: three nodes on one NATS and one PostgreSQL, as docs/cluster.md
describes it. Docker is not on the test machine: the file is read and each node's configuration is
loaded as the node would load it."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from kizuna import config as config_mod

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.cluster.yml"


def _nodes() -> dict[str, dict]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return {name: s for name, s in services.items() if name.startswith("kizuna")}


def _env(service: dict) -> dict[str, str]:
    env = {}
    for k, v in service["environment"].items():  # ${X:-default} -> default, as Compose would
        v = str(v)
        while "${" in v:
            start = v.index("${")
            end = v.index("}", start)
            inner = v[start + 2:end]
            v = v[:start] + (inner.split(":-", 1)[1] if ":-" in inner else "") + v[end + 1:]
        env[k] = v
    return env


def _server_flags(service: dict) -> list[str]:
    entry = service["entrypoint"]
    if entry[:3] == ["tini", "--", "/bin/sh"]:
        script = entry[-1].split("exec ", 1)[1]
        return shlex.split(script)[2:]  # after `kizuna server`
    assert entry[:4] == ["tini", "--", "kizuna", "server"]
    return entry[4:]


def test_three_nodes_with_distinct_names_and_ports_share_nats_and_the_database() -> None:
    nodes = _nodes()
    assert len(nodes) == 3
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert "nats" in services and "postgres" in services
    names, host_ports, urls, databases = set(), set(), set(), set()
    for service in nodes.values():
        cfg = config_mod.load(_server_flags(service), env=_env(service))
        names.add(cfg.name)
        urls.add(tuple(cfg.cluster.nats_url))
        databases.add(cfg.database.address[0])
        for port in service["ports"]:
            host_ports.add(port.rsplit(":", 2)[-2] if port.count(":") else port)
        assert cfg.socket.workers == 0  # one worker per core on each machine
        assert service["stop_grace_period"] == "45s" and cfg.shutdown_grace_sec + 10 < 45
    assert len(names) == 3 and all(len(n) <= 14 for n in names)
    assert urls == {("nats://nats:4222",)}
    assert len(databases) == 1 and next(iter(databases)).endswith("@postgres:5432/kizuna")
    assert len(host_ports) == 6


def test_only_the_first_node_migrates_and_the_others_wait_for_it() -> None:
    nodes = _nodes()
    assert "kizuna migrate up" in nodes["kizuna1"]["entrypoint"][-1]
    for name in ("kizuna2", "kizuna3"):
        assert "migrate" not in " ".join(nodes[name]["entrypoint"])
        assert nodes[name]["depends_on"] == {"kizuna1": {"condition": "service_healthy"}}
