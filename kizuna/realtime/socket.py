"""`GET /ws`: the socket endpoint, and the thin adapter between sessions and aiohttp.

Before the upgrade, as Nakama: `format` must be `json` (or empty): anything else is 400; the token
(the `Authorization: Bearer` header, or else the `token` query parameter) must be a valid,
unexpired, unrevoked session token: otherwise 401 `Missing or invalid token`.

After it, one task per socket reads frames and dispatches envelopes in order; writes go through
the session (see session.py). Incoming messages larger than `socket.max_message_size_bytes` close
the socket with 1009 (message too big), a standard code a client can act on. Text and binary
frames are both read as JSON. WebSocket pings are answered; pongs (and any other frame) count as
signs of life for the keepalive.

`AiohttpConnection` is the only code that knows aiohttp's WebSocket API: swapping the library
(picows, say) means rewriting this file only.
"""

from __future__ import annotations

import asyncio
import logging
import struct

from aiohttp import WSMsgType, web

from kizuna.config import parse_bool
from kizuna.errors import KizunaError
from kizuna.realtime.service import RealtimeService
from kizuna.realtime.session import Session

log = logging.getLogger("kizuna.realtime")

# The transport buffer size above which frames queue in the session instead (flow control).
HIGH_WATER = 64 * 1024

_SMALL_HEADERS = [bytes((0x81, n)) for n in range(126)]
_HEADER16 = struct.Struct("!BBH").pack
_HEADER64 = struct.Struct("!BBQ").pack
_PING = b"\x89\x00"


class AiohttpConnection:
    """A session's view of an aiohttp WebSocketResponse.

    Unfragmented, uncompressed text frames from a server carry no mask, so the fast path frames the
    bytes itself and writes them straight to the transport; the slow path (the session's writer
    task, only while the peer is behind) uses aiohttp's `send_frame`, which waits on flow control.

    Until `opened()` (the handshake's 101 answer is out) nothing is written: what the session
    sends meanwhile waits in its queue, in order.
    """

    __slots__ = ("_opened", "is_open", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self.ws = ws
        self.transport = transport
        self.is_open = False
        self._opened = asyncio.Event()

    def opened(self) -> None:
        self.is_open = True
        self._opened.set()

    def try_write(self, data: bytes) -> bool:
        if not self.is_open:
            return False
        t = self.transport
        if self.ws.closed or t.is_closing():
            return True  # the session is ending: nothing more goes out
        if t.get_write_buffer_size() > HIGH_WATER:
            return False
        n = len(data)
        if n < 126:
            t.write(_SMALL_HEADERS[n] + data)
        elif n < 65536:
            t.write(_HEADER16(0x81, 126, n) + data)
        else:
            t.write(_HEADER64(0x81, 127, n))
            t.write(data)
        return True

    async def write(self, data: bytes) -> None:
        if not self.is_open:
            await self._opened.wait()
        await self.ws.send_frame(data, WSMsgType.TEXT)

    def ping(self) -> None:
        t = self.transport
        if self.is_open and not self.ws.closed and not t.is_closing():
            t.write(_PING)

    async def close(self, code: int, reason: str) -> None:
        if not self.is_open:  # closed before the handshake's answer: no frames, just go
            self.transport.close()
            return
        await self.ws.close(code=code, message=reason.encode()[:123], drain=False)

    def abort(self, code: int | None = None, reason: str = "") -> None:
        t = self.transport
        if t.is_closing():
            return
        if code is not None and self.is_open and not self.ws.closed:
            payload = struct.pack("!H", code) + reason.encode()[:123]
            t.write(bytes((0x88, len(payload))) + payload)
        if t.get_write_buffer_size():
            t.abort()  # a peer that does not read would hold the buffer (and the socket) forever
        else:
            t.close()


def _plain(status: int, text: str) -> web.Response:
    resp = web.Response(status=status, text=text + "\n", content_type="text/plain",
                        charset="utf-8")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        return header[7:] if header.startswith("Bearer ") else None
    return request.query.get("token")


async def handle(rt: RealtimeService, request: web.Request) -> web.StreamResponse:
    cfg = rt.config.socket
    fmt = request.query.get("format", "")
    if fmt == "protobuf":
        return _plain(400, "Invalid format parameter: protobuf is not supported by this server "
                           "yet, use format=json")
    if fmt not in ("", "json"):
        return _plain(400, "Invalid format parameter")
    if rt.stopping:
        return _plain(503, "Server shutting down")
    token = _token(request)
    if not token:
        return _plain(401, "Missing or invalid token")
    try:
        auth = rt.sessions.authenticate(token)
    except KizunaError:
        return _plain(401, "Missing or invalid token")
    transport = request.transport
    if transport is None:
        return _plain(400, "Connection lost")

    # aiohttp refuses a message of exactly max_msg_size bytes; Nakama accepts up to the limit.
    ws = web.WebSocketResponse(autoping=False, compress=False,
                               max_msg_size=cfg.max_message_size_bytes + 1,
                               timeout=cfg.close_ack_wait_ms / 1000, writer_limit=0)
    loop = asyncio.get_running_loop()
    peer = transport.get_extra_info("peername")
    conn = AiohttpConnection(ws, transport)
    session = Session(
        conn, session_id=rt.registry.new_id(), node=rt.node,
        user_id=auth.user_id, username=auth.username, vars=auth.vars, token_id=auth.token_id,
        expiry=auth.expires_at, lang=request.query.get("lang") or "en",
        status=bool(parse_bool(request.query.get("status", ""))),
        queue_size=cfg.outgoing_queue_size, write_wait=cfg.write_wait_ms / 1000, now=loop.time(),
        client_ip=request.remote or "",
        client_port=str(peer[1]) if isinstance(peer, tuple) and len(peer) > 1 else "")
    # The session is connected (tracked, shown online, in a cluster published to the other
    # nodes) before the client hears the handshake's answer: a friend asking any node right
    # after finds it online. What is sent to it before then waits in its queue.
    rt.connect(session)
    try:
        await rt.connected()
        await ws.prepare(request)
        conn.opened()
        await _read(rt, session, ws, loop)
    except asyncio.CancelledError:
        session.close(1001, "server shutting down", abort=True)
        raise
    finally:
        rt.disconnect(session)
    await session.wait_closed()
    return ws


async def _read(rt: RealtimeService, session: Session, ws: web.WebSocketResponse,
                loop: asyncio.AbstractEventLoop) -> None:
    receive, dispatch, clock = ws.receive, rt.dispatch, loop.time
    TEXT, BINARY, PING, PONG = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.PING, WSMsgType.PONG
    while True:
        msg = await receive()
        kind = msg.type
        session.last_recv = clock()
        if kind is TEXT or kind is BINARY:
            if session.closed:
                continue
            await dispatch(session, msg.data)
        elif kind is PING:
            if not ws.closed:
                await ws.pong(msg.data)
        elif kind is PONG:
            continue
        else:  # CLOSE, CLOSING, CLOSED or ERROR (e.g. 1009 message too big)
            if kind is WSMsgType.ERROR:
                log.debug("socket error", extra={"sid": session.id, "error": str(msg.data)})
            return


def register(app: web.Application, realtime: RealtimeService) -> None:
    """Serve the node's realtime service at `/ws`."""

    async def ws(request: web.Request) -> web.StreamResponse:
        return await handle(realtime, request)

    app.router.add_get("/ws", ws, allow_head=False)
