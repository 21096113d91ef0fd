// Server modules through the official nakama-js client: RPCs with a session, with the HTTP key and
// over the socket, a before hook, and events. The server loads docs/examples/modules/example.py
// (the wrapper in test_nakama_js.py starts it with --runtime.path).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { client, uniq, httpError } from "./harness.mjs";

// nakama-js arms long timers it never clears: unref them so the process ends with the tests.
const nativeSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (fn, ms, ...args) => {
  const t = nativeSetTimeout(fn, ms, ...args);
  if (ms >= 5000 && t && typeof t.unref === "function") t.unref();
  return t;
};

const HTTP_KEY = "defaulthttpkey";
const sockets = [];
after(() => sockets.forEach((s) => s.disconnect(false)));

test("client.rpc with a session: JSON in and out, errors as nakama-js sees them", async () => {
  const c = client();
  const session = await c.authenticateDevice(uniq("device"));

  const echoed = await c.rpc(session, "echo", { hello: "world", n: [1, 2] });
  assert.deepEqual(echoed.payload, { hello: "world", n: [1, 2] });
  // The id is case-insensitive.
  assert.deepEqual((await c.rpc(session, "ECHO", { a: 1 })).payload, { a: 1 });

  const reward = await c.rpc(session, "claim_daily_reward", {});
  assert.equal(reward.payload.coins, 100);
  const again = await httpError(c.rpc(session, "claim_daily_reward", {}));
  const message = "Today's reward was already claimed.";
  assert.deepEqual(again, { status: 400, body: { error: message, message, code: 9 } });

  const list = await c.listNotifications(session, 10);
  assert.deepEqual(list.notifications.map((n) => [n.subject, n.content.coins]), [["Daily reward", 100]]);

  const missing = await httpError(c.rpc(session, "no_such_function", {}));
  assert.deepEqual(missing.body, { error: "RPC function not found", message: "RPC function not found", code: 5 });
  assert.equal(missing.status, 404);
});

test("client.rpcHttpKey: server-to-server calls without a session", async () => {
  const c = client();
  const res = await c.rpcHttpKey(HTTP_KEY, "echo", { via: "http key" });
  assert.deepEqual(res.payload, { via: "http key" });
  const noUser = await httpError(c.rpcHttpKey(HTTP_KEY, "claim_daily_reward", {}));
  assert.equal(noUser.status, 401);
  assert.equal(noUser.body.message, "Sign in to claim a reward.");
  const wrong = await httpError(c.rpcHttpKey("not-the-key", "echo", {}));
  assert.deepEqual(wrong, { status: 401, body: { error: "HTTP key invalid", message: "HTTP key invalid", code: 16 } });
});

test("socket.rpc: payload strings over the realtime socket", async () => {
  const c = client();
  const session = await c.authenticateDevice(uniq("device"));
  const socket = c.createSocket(false, false);
  sockets.push(socket);
  await socket.connect(session, false);
  const res = await socket.rpc("echo", JSON.stringify({ over: "the socket" }));
  assert.equal(res.id, "echo");
  assert.deepEqual(JSON.parse(res.payload), { over: "the socket" });
  await assert.rejects(socket.rpc("no_such_function", "{}"),
    (err) => err.code === 6 && err.message === "RPC function not found");
  const reward = await socket.rpc("claim_daily_reward", "");
  assert.equal(JSON.parse(reward.payload).coins, 100);
  await assert.rejects(socket.rpc("claim_daily_reward", ""),
    (err) => err.code === 7 && err.message === "Today's reward was already claimed.");
});

test("a before hook on updateAccount, and events reaching the module", async () => {
  const c = client();
  const session = await c.authenticateDevice(uniq("device"));
  await c.updateAccount(session, { display_name: "  Spaced   Out  " });
  assert.equal((await c.getAccount(session)).user.display_name, "Spaced Out");
  const refused = await httpError(c.updateAccount(session, { display_name: "Admin" }));
  assert.deepEqual(refused.body, { code: 3, message: "That display name is reserved." });

  await c.emitEvent(session, { name: "level_complete", properties: { level: "1-1" } });
  const deadline = Date.now() + 30000;  // a ceiling: events run from a queue
  for (;;) {
    const read = await c.readStorageObjects(session, { object_ids: [
      { collection: "stats", key: "levels", user_id: session.user_id }] });
    if (read.objects.length) {
      assert.deepEqual(read.objects[0].value, { completed: 1, last: "1-1" });
      break;
    }
    assert.ok(Date.now() < deadline, "the event was not counted");
    await new Promise((resolve) => nativeSetTimeout(resolve, 50));
  }
});
