// The socket's promises through the official nakama-js client: users show `online` while a socket
// with status is open, the `ping`/`pong` envelope and the client's heartbeat, the server's pings
// to idle sockets (this suite's server: socket.ping_period_ms 400, socket.pong_wait_ms 2500), and
// `format=protobuf` refused with 400.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { WebSocketAdapterText } from "@heroiclabs/nakama-js";
import { HOST, PORT, client, connect, nativeSetTimeout, player } from "./harness.mjs";

// Waits for `check()` to hold, re-checking on `wake` or every 50 ms, failing after `ceilingMs`.
async function until(what, check, ceilingMs = 20000) {
  const deadline = Date.now() + ceilingMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => nativeSetTimeout(resolve, 50));
  }
}

// Resolves with the close event of a socket made by `connect` (nakama-js calls `ondisconnect`).
function closed(socket) {
  return new Promise((resolve) => { socket.ondisconnect = resolve; });
}

async function online(c, session, userId) {
  const { users } = await c.getUsers(session, [userId]);
  assert.equal(users.length, 1);
  return users[0].online === true;
}

test("getUsers shows a user online while a socket with status is open, offline after", async () => {
  const c = client();
  const [alice, bob] = [await player(c), await player(c)];
  assert.equal(await online(c, bob, alice.user_id), false);

  // Bob watches Alice's status: its presence events say when Alice's sockets come and go.
  const watcher = await connect(c, bob, true);
  await watcher.followUsers([alice.user_id]);

  const first = await connect(c, alice, true);
  const joined = await watcher.next("status_presence", (e) => (e.joins || []).some((p) => p.user_id === alice.user_id));
  assert.equal(await online(c, bob, alice.user_id), true);
  assert.equal(await online(c, alice, alice.user_id), true);

  // A second socket, then the first one closes: still online.
  const second = await connect(c, alice, true);
  await watcher.next("status_presence", (e) => (e.joins || []).some((p) => p.user_id === alice.user_id));
  const firstGone = closed(first);
  first.disconnect();
  await firstGone;
  const left = await watcher.next("status_presence", (e) => (e.leaves || []).some((p) => p.user_id === alice.user_id));
  assert.equal(left.leaves[0].session_id, joined.joins[0].session_id);
  assert.equal(await online(c, bob, alice.user_id), true);

  // The last one closes: offline for everyone.
  second.disconnect();
  await watcher.next("status_presence", (e) => (e.leaves || []).some((p) => p.user_id === alice.user_id));
  assert.equal(await online(c, bob, alice.user_id), false);
  assert.equal(await online(c, alice, alice.user_id), false);
});

test("a socket opened without status does not show the user online", async () => {
  const c = client();
  const [carol, dave] = [await player(c), await player(c)];
  const quiet = await connect(c, carol, false);
  const pong = await quiet.send({ ping: {} }); // the server has the session once it answers
  assert.deepEqual(pong.pong, {});
  assert.equal(await online(c, dave, carol.user_id), false);
  const gone = closed(quiet);
  quiet.disconnect();
  await gone;
});

test("ping: the server answers the client's ping envelope with a pong of the same cid", async () => {
  const c = client();
  const s = await player(c);
  const socket = await connect(c, s);
  const replies = await Promise.all([socket.send({ ping: {} }), socket.send({ ping: {} })]);
  for (const r of replies) {
    assert.deepEqual(Object.keys(r).sort(), ["cid", "pong"]);
    assert.deepEqual(r.pong, {});
  }
  assert.notEqual(replies[0].cid, replies[1].cid);
  // The socket still serves other messages afterwards.
  const ch = await socket.joinChat("ping-room", 1, false, false);
  assert.equal(ch.room_name, "ping-room");
});

// A text adapter that records what the client sends and receives (nakama-js takes any adapter).
class RecordingAdapter extends WebSocketAdapterText {
  constructor() {
    super();
    this.sent = [];
    this.received = [];
  }
  get onMessage() { return super.onMessage; }
  set onMessage(fn) {
    super.onMessage = fn && ((m) => { this.received.push(m); fn(m); });
  }
  send(msg) {
    this.sent.push(JSON.parse(JSON.stringify(msg)));
    super.send(msg);
  }
}

test("heartbeat: the client's periodic pings are all answered, no heartbeat timeout", async () => {
  const c = client();
  const s = await player(c);
  const adapter = new RecordingAdapter();
  const socket = c.createSocket(false, false, adapter);
  socket.setHeartbeatTimeoutMs(1500); // a ping every 1.5 s, each must be answered within 1.5 s
  let timeouts = 0;
  socket.onheartbeattimeout = () => { timeouts++; };
  await socket.connect(s, false);
  try {
    const pongs = () => adapter.received.filter((m) => m.pong);
    await until("3 heartbeat pongs", () => pongs().length >= 3);
    const pingCids = adapter.sent.filter((m) => m.ping).map((m) => m.cid);
    for (const p of pongs()) assert.ok(pingCids.includes(p.cid), `pong ${p.cid} answers a ping`);
    assert.equal(timeouts, 0);
    assert.equal(adapter.isOpen(), true);
  } finally {
    socket.disconnect(false);
  }
});

function rawSocket(token, options = {}, query = "") {
  return new WebSocket(`ws://${HOST}:${PORT}/ws?lang=en&status=false&token=${encodeURIComponent(token)}${query}`,
    options);
}

function opened(ws) {
  return new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
}

test("server pings: idle sockets that answer stay open, silent ones are dropped", async () => {
  const c = client();
  const s = await player(c);

  // ws answers pings by itself: after more pings than pong_wait_ms covers, the socket is open.
  const lively = rawSocket(s.token);
  let livelyPings = 0;
  lively.on("ping", () => { livelyPings++; });
  await opened(lively);
  await until("8 server pings", () => livelyPings >= 8);
  assert.equal(lively.readyState, WebSocket.OPEN);
  lively.send(JSON.stringify({ cid: "1", ping: {} }));
  const reply = await new Promise((resolve) => lively.once("message", (d) => resolve(JSON.parse(d))));
  assert.deepEqual(reply, { cid: "1", pong: {} });
  lively.close();

  // A client that never answers is closed by the server.
  const silent = rawSocket(s.token, { autoPong: false });
  let silentPings = 0;
  silent.on("ping", () => { silentPings++; });
  const silentClosed = new Promise((resolve) => silent.once("close", (code) => resolve(code)));
  await opened(silent);
  let ceiling;
  const code = await Promise.race([silentClosed,
    new Promise((resolve) => { ceiling = nativeSetTimeout(() => resolve("still open"), 20000); })]);
  clearTimeout(ceiling);
  assert.notEqual(code, "still open");
  assert.ok(silentPings >= 1, "the server pinged before giving up");
});

test("format=protobuf is refused with 400; json (the default) is served", async () => {
  const c = client();
  const s = await player(c);

  // A raw upgrade request: the HTTP answer is 400 with the reason in the body.
  const refused = await new Promise((resolve, reject) => {
    const ws = rawSocket(s.token, {}, "&format=protobuf");
    ws.on("unexpected-response", (req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => { body += chunk; });
      res.on("end", () => { req.socket.destroy(); resolve({ status: res.statusCode, body }); });
    });
    ws.on("open", () => { ws.close(); reject(new Error("a protobuf socket was accepted")); });
    ws.on("error", () => {});
  });
  assert.equal(refused.status, 400);
  assert.match(refused.body, /protobuf/);

  // Through the client: an adapter asking for protobuf gets its connect() rejected.
  // (WebSocketAdapterText builds its URL in connect() and keeps the socket in `_socket`.)
  class ProtobufAdapter extends WebSocketAdapterText {
    connect(scheme, host, port, createStatus, token) {
      this._socket = new WebSocket(`${scheme}${host}:${port}/ws?lang=en&status=${createStatus}` +
        `&token=${encodeURIComponent(token)}&format=protobuf`);
    }
  }
  const socket = c.createSocket(false, false, new ProtobufAdapter());
  const err = await socket.connect(s, false).then(() => null, (e) => e);
  assert.ok(err, "connect() must reject");
  assert.match(String(err.message), /400/);

  // format=json is accepted and works.
  const json = rawSocket(s.token, {}, "&format=json");
  await opened(json);
  json.send(JSON.stringify({ cid: "7", ping: {} }));
  const reply = await new Promise((resolve) => json.once("message", (d) => resolve(JSON.parse(d))));
  assert.deepEqual(reply, { cid: "7", pong: {} });
  json.close();
});
