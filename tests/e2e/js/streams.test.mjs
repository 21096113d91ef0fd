// Custom streams through the official nakama-js client: server code (tests/e2e/modules/streams.py,
// a lobby on stream mode 123) puts sessions on a stream, sends to it and closes it; the sockets see
// `onstreampresence` and `onstreamdata` exactly as they would with Nakama.
import { test } from "node:test";
import assert from "node:assert/strict";
import { client, connect, nativeSetTimeout, player, uniq } from "./harness.mjs";

const HTTP_KEY = "defaulthttpkey";

// Keep a socket's stream events; `next(kind, where)` takes the first matching one (or fails after a
// timeout), `none(kind)` asserts that none arrived.
function streamEvents(socket) {
  const events = [];
  socket.onstreampresence = (e) => events.push({ kind: "presence", body: e });
  socket.onstreamdata = (e) => events.push({ kind: "data", body: e });
  return {
    async next(kind, where = () => true, timeoutMs = 30000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = events.findIndex((e) => e.kind === kind && where(e.body));
        if (i >= 0) return events.splice(i, 1)[0].body;
        if (Date.now() > deadline) throw new Error(`no stream ${kind}; have ${JSON.stringify(events)}`);
        await new Promise((resolve) => nativeSetTimeout(resolve, 20));
      }
    },
    async none(kind, waitMs = 300) {
      await new Promise((resolve) => nativeSetTimeout(resolve, waitMs));
      assert.deepEqual(events.filter((e) => e.kind === kind), []);
    },
  };
}

async function lobbyPlayer(c) {
  const session = await player(c);
  const socket = await connect(c, session);
  return { session, socket, events: streamEvents(socket) };
}

async function enter(p, lobby, options = {}) {
  const res = await p.socket.rpc("lobby_enter", JSON.stringify({ lobby, ...options }));
  return JSON.parse(res.payload);
}

const presence = (p, sessionId) => ({
  user_id: p.session.user_id, session_id: sessionId, username: p.session.username,
});

test("onstreampresence and onstreamdata for a lobby on a custom stream", async () => {
  const c = client();
  const a = await lobbyPlayer(c), b = await lobbyPlayer(c), watcher = await lobbyPlayer(c);
  const lobby = uniq("lobby");
  const stream = { mode: 123, label: lobby };

  // A enters: everyone on the stream hears it, A included.
  const ea = await enter(a, lobby);
  assert.equal(ea.joined, true);
  assert.equal((await enter(a, lobby)).joined, false); // already in: nothing changes
  assert.deepEqual(await a.events.next("presence"), { stream, joins: [presence(a, ea.session_id)] });

  const eb = await enter(b, lobby);
  for (const p of [a, b]) {
    assert.deepEqual(await p.events.next("presence"), { stream, joins: [presence(b, eb.session_id)] });
  }
  // A hidden watcher: receives what the lobby gets, announced to nobody.
  const ew = await enter(watcher, lobby, { hidden: true, status: "spectating" });
  await a.events.none("presence");

  // An announcement from the server (HTTP key): every session on the stream, without a sender.
  const res = await c.rpcHttpKey(HTTP_KEY, "lobby_announce", { lobby, text: "round 1" });
  assert.deepEqual(res.payload, { count: 3, shown: 2 });
  for (const p of [a, b, watcher]) {
    const data = await p.events.next("data");
    assert.deepEqual(data, { stream, data: JSON.stringify({ text: "round 1" }), reliable: true });
    assert.equal(data.sender, undefined);
    assert.deepEqual(JSON.parse(data.data), { text: "round 1" });
  }
  // A whisper to one session.
  await c.rpcHttpKey(HTTP_KEY, "lobby_announce", { lobby, text: "psst", to: [eb.session_id] });
  assert.equal(JSON.parse((await b.events.next("data")).data).text, "psst");
  await a.events.none("data");
  await watcher.events.none("data", 0);

  // B leaves: the others hear it (the hidden watcher too).
  await b.socket.rpc("lobby_leave", JSON.stringify({ lobby }));
  for (const p of [a, watcher]) {
    assert.deepEqual(await p.events.next("presence"), { stream, leaves: [presence(b, eb.session_id)] });
  }

  // A's socket closes: it leaves the stream.
  a.socket.disconnect(false);
  assert.deepEqual(await watcher.events.next("presence"), { stream, leaves: [presence(a, ea.session_id)] });
  // (the leave event went out once A was off the stream)
  const left = await c.rpcHttpKey(HTTP_KEY, "lobby_announce", { lobby, text: "still here?" });
  assert.deepEqual(left.payload, { count: 1, shown: 0 });
  assert.equal(JSON.parse((await watcher.events.next("data")).data).text, "still here?");
  assert.equal(ew.joined, true);

  // Closing the lobby takes everyone off it: announcements reach nobody.
  await c.rpcHttpKey(HTTP_KEY, "lobby_close", { lobby });
  const after = await c.rpcHttpKey(HTTP_KEY, "lobby_announce", { lobby, text: "anyone?" });
  assert.deepEqual(after.payload, { count: 0, shown: 0 });
  await watcher.events.none("data");
});
