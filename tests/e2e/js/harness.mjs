// Shared set-up for the end-to-end tests: the official nakama-js client, under Node, pointed at
// the kizuna server the pytest wrapper started (its port is in KZ_E2E_PORT).
import { after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Client } from "@heroiclabs/nakama-js";
import { randomUUID } from "node:crypto";

globalThis.WebSocket = WebSocket; // nakama-js expects a browser-style global WebSocket

export const PORT = process.env.KZ_E2E_PORT || "7350";
export const HOST = "127.0.0.1";

export function client(serverKey = "defaultkey") {
  return new Client(serverKey, HOST, PORT, false, 10000, false);
}

// With KZ_E2E_PORTS (a comma-separated list: the nodes of a cluster), each socket opens on the
// next node in turn while REST stays on KZ_E2E_PORT: every suite then runs across nodes, and
// whatever two players do together crosses the cluster.
export const PORTS = (process.env.KZ_E2E_PORTS || "").split(",").filter(Boolean);
let nextPort = 0;
export function socketClient(c) {
  if (!PORTS.length) return c;
  const port = PORTS[nextPort++ % PORTS.length];
  return new Client(c.serverkey, HOST, port, false, 10000, false);
}

export function uniq(prefix = "id") {
  return `${prefix}-${randomUUID()}`;
}

// nakama-js rejects with the raw fetch Response on HTTP errors.
export async function httpError(promise) {
  try {
    await promise;
  } catch (err) {
    if (err && typeof err.status === "number") {
      let body = null;
      try { body = await err.json(); } catch { /* not JSON */ }
      return { status: err.status, body };
    }
    throw err;
  }
  throw new Error("expected the call to fail, it succeeded");
}

// nakama-js arms 10-30 s timers (connect and send timeouts, the heartbeat) that it never clears;
// unref them so a test process ends when its tests do instead of waiting for them to fire.
export const nativeSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (fn, ms, ...args) => {
  const t = nativeSetTimeout(fn, ms, ...args);
  if (ms >= 5000 && t && typeof t.unref === "function") t.unref();
  return t;
};

const sockets = [];
after(() => sockets.forEach((s) => s.disconnect(false)));

export async function player(c) {
  return c.authenticateDevice(uniq("device"));
}

// A connected socket whose pushes are kept, so a test can wait for the one it expects:
// `await socket.next(kind, where)` takes the first matching push (or fails after a timeout),
// `await socket.none(kind)` asserts that none of that kind arrived.
export async function connect(c, session, status = false) {
  const socket = socketClient(c).createSocket(false, false);
  sockets.push(socket);
  const events = [];
  let wake = () => {};
  const keep = (kind) => (body) => { events.push({ kind, body }); wake(); };
  socket.onchannelmessage = keep("channel_message");
  socket.onchannelpresence = keep("channel_presence");
  socket.onstatuspresence = keep("status_presence");
  socket.onmatchdata = keep("match_data");
  socket.onmatchpresence = keep("match_presence");
  socket.onnotification = keep("notification");
  await socket.connect(session, status);
  socket.next = async (kind, where = () => true, timeoutMs = 30000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = events.findIndex((e) => e.kind === kind && where(e.body));
      if (i >= 0) return events.splice(i, 1)[0].body;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${kind} event; have ${JSON.stringify(events)}`);
      await new Promise((resolve) => { wake = resolve; nativeSetTimeout(resolve, Math.min(left, 50)); });
    }
  };
  socket.none = async (kind, waitMs = 300) => {
    await new Promise((resolve) => nativeSetTimeout(resolve, waitMs));
    assert.deepEqual(events.filter((e) => e.kind === kind), []);
  };
  return socket;
}
