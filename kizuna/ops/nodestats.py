"""What a node reports of itself in the node registry, for the console's status page.

`NodeStats` counts the node's API requests (rate, average latency, bytes in and out over the last
heartbeat interval) and the client SDKs seen (from the User-Agent of requests and socket
upgrades), as the server's outermost middleware reports them (kizuna/server.py `InFlight`).
`snapshot()` is what the registry writes into `kizuna_node.stats` with each heartbeat;
`take_clients()` hands over the SDK counts since the last beat, which the registry merges into
`kizuna_client_seen`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

MAX_CLIENT_KINDS = 200  # distinct (sdk, version) pairs kept between two heartbeats

# Official Nakama client SDKs and how their User-Agent (or its first product token) names them.
_KNOWN = (
    (re.compile(r"^nakama-js/", re.I), "nakama-js"),
    (re.compile(r"^nakama-?dotnet/|^Nakama\.NET|^nakama-csharp", re.I), "nakama-dotnet"),
    (re.compile(r"^nakama-?unity/|UnityPlayer|UnityWebRequest", re.I), "nakama-unity"),
    (re.compile(r"^nakama-?godot|^GodotEngine|Godot/", re.I), "nakama-godot"),
    (re.compile(r"^nakama-?cpp|^nakama-cpp", re.I), "nakama-cpp"),
    (re.compile(r"^defold|^nakama-defold", re.I), "nakama-defold"),
    (re.compile(r"^nakama-?java", re.I), "nakama-java"),
    (re.compile(r"^nakama-?swift", re.I), "nakama-swift"),
)
_PRODUCT = re.compile(r"^([A-Za-z][\w.+\-]{0,63})(?:/([\w.+\-]{1,63}))?")
_VERSION = re.compile(r"/v?(\d+(?:\.\d+){0,3}[\w.+\-]*)")


@lru_cache(maxsize=1024)  # on every request: a game's clients send a handful of agents
def parse_user_agent(agent: str) -> tuple[str, str]:
    """(sdk, version) of a User-Agent: an official SDK by name, a browser as "browser", else its
    first product token ("node", "curl", "python-requests"...); "" for no agent."""
    agent = agent.strip()
    if not agent:
        return "(none)", ""
    for pattern, sdk in _KNOWN:
        if pattern.search(agent):
            found = _VERSION.search(agent)
            return sdk, found.group(1)[:64] if found else ""
    if agent.startswith("Mozilla/"):
        return "browser", ""
    m = _PRODUCT.match(agent)
    if m is None:
        return "(other)", ""
    return m.group(1)[:128], (m.group(2) or "")[:64]


@dataclass
class _Window:
    requests: int = 0
    latency_sum: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    started: float = field(default_factory=time.monotonic)


class NodeStats:
    """Counters of one node's traffic, read by the registry each heartbeat."""

    def __init__(self, state: Callable[[], dict[str, Any]] | None = None) -> None:
        self.started = time.time()
        self._window = _Window()
        self._last: dict[str, float] = {"avg_rate_sec": 0.0, "avg_latency_ms": 0.0,
                                         "avg_input_kbs": 0.0, "avg_output_kbs": 0.0}
        self._clients: dict[tuple[str, str], list[Any]] = {}  # (sdk, version) -> [count, agent]
        self.state = state  # live figures of the node (sockets, presences, matches...)

    def record(self, seconds: float, bytes_in: int, bytes_out: int) -> None:
        w = self._window
        w.requests += 1
        w.latency_sum += seconds
        w.bytes_in += bytes_in
        w.bytes_out += bytes_out

    def saw_client(self, agent: str) -> None:
        key = parse_user_agent(agent)
        entry = self._clients.get(key)
        if entry is not None:
            entry[0] += 1
        elif len(self._clients) < MAX_CLIENT_KINDS:
            self._clients[key] = [1, agent[:512]]

    def take_clients(self) -> dict[tuple[str, str], list[Any]]:
        clients, self._clients = self._clients, {}
        return clients

    def rates(self) -> dict[str, float]:
        """The figures of the last closed window (a heartbeat interval)."""
        return dict(self._last)

    def roll(self) -> None:
        """Close the current window: its averages become `rates()`."""
        w, self._window = self._window, _Window()
        span = max(time.monotonic() - w.started, 1e-3)
        self._last = {
            "avg_rate_sec": round(w.requests / span, 2),
            "avg_latency_ms": round(w.latency_sum * 1000 / w.requests, 2) if w.requests else 0.0,
            "avg_input_kbs": round(w.bytes_in / 1024 / span, 2),
            "avg_output_kbs": round(w.bytes_out / 1024 / span, 2),
        }

    def snapshot(self) -> dict[str, Any]:
        self.roll()
        out: dict[str, Any] = {**self._last, "started_unix": int(self.started)}
        if self.state is not None:
            out.update(self.state())
        return out
