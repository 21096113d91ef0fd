// Server module hooks and routes seen from the official nakama-js client (the server loads
// tests/e2e/modules/hooks.py): an after hook on a REST method, realtime before/after hooks on
// ChannelJoin, and custom HTTP routes called with fetch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HOST, PORT, client, connect, player, uniq } from "./harness.mjs";

const BASE = `http://${HOST}:${PORT}`;
const KEY = { "X-Api-Key": "e2e-route-key" };

test("after hook: a WriteStorageObjects after hook has written its audit when the call returns", async () => {
  const c = client();
  const s = await player(c);
  const col = uniq("saves");
  const acks = await c.writeStorageObjects(s, [
    { collection: col, key: "slot1", value: { level: 3 } },
    { collection: col, key: "slot2", value: { level: 9 } },
  ]);
  // Read straight away: the hook ran before the response was sent.
  const read = await c.readStorageObjects(s, { object_ids: [{ collection: "audit", key: "last_write", user_id: s.user_id }] });
  assert.equal(read.objects.length, 1);
  assert.deepEqual(read.objects[0].value, {
    keys: ["slot1", "slot2"],
    versions: acks.acks.map((a) => a.version),
    values: [{ level: 3 }, { level: 9 }],
  });
  assert.equal(read.objects[0].permission_read, 1);
  assert.equal(read.objects[0].permission_write, 0);

  // The player cannot overwrite the server's record (write permission 0).
  await assert.rejects(c.writeStorageObjects(s, [{ collection: "audit", key: "last_write", value: { keys: [] } }]),
    (res) => res.status === 400);
});

test("after hook: a failing after hook does not change the client's answer", async () => {
  const c = client();
  const s = await player(c);
  const account = await c.getAccount(s);
  assert.equal(account.user.id, s.user_id);
  assert.equal(account.user.username, s.username);
});

test("realtime hooks: before ChannelJoin rewrites or refuses rooms, after ChannelJoin notifies", async () => {
  const c = client();
  const s = await player(c);
  const socket = await connect(c, s);
  const name = uniq("Lobby").slice(0, 30);

  // The before hook lower-cases the room name: the client is in the rewritten room.
  const ch = await socket.joinChat(name, 1, false, false);
  assert.equal(ch.room_name, name.toLowerCase());
  assert.equal(ch.id, `2...${name.toLowerCase()}`);
  // The after hook saw the reply: its welcome names the room and this session.
  const welcome = await socket.next("notification", (n) => n.code === 101);
  assert.equal(welcome.subject, "welcome");
  assert.deepEqual(welcome.content, { room: name.toLowerCase(), channel: ch.id, session_id: ch.self.session_id });

  // A hook error reaches the client as a rejected promise with the hook's message (code 7).
  await assert.rejects(socket.joinChat("closed-vip", 1, false, false),
    { code: 7, message: "The room closed-vip is closed." });
  // A hook returning None refuses the message (code 1); Kizuna keeps the socket open.
  await assert.rejects(socket.joinChat("gone-old", 1, false, false),
    { code: 1, message: "Requested resource was not found." });
  // No welcome for refused joins (the after hook runs only after success), and the socket works.
  const again = await socket.joinChat(name, 1, false, false);
  assert.equal(again.id, ch.id);
  const second = await socket.next("notification", (n) => n.code === 101);
  assert.equal(second.content.channel, ch.id);
  await socket.none("notification");
  // Direct messages are not rewritten (the hook only touches rooms).
  const other = await player(c);
  const dm = await socket.joinChat(other.user_id, 2, false, false);
  assert.deepEqual([dm.user_id_one, dm.user_id_two].sort(), [s.user_id, other.user_id].sort());
});

test("custom HTTP routes: GET with a path parameter and a key, POST with a JSON body", async () => {
  const c = client();
  const s = await player(c);
  await c.updateAccount(s, { display_name: "Route Runner" });

  const ok = await fetch(`${BASE}/e2e/profile/${s.user_id}?fields=level&fields=rank`, { headers: KEY });
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get("content-type"), /^application\/json/);
  assert.equal(ok.headers.get("cache-control"), "no-store");
  assert.deepEqual(await ok.json(), { id: s.user_id, username: s.username, display_name: "Route Runner",
    fields: ["level", "rank"] });

  // The route does its own authentication: no key, 401 from the module.
  const nokey = await fetch(`${BASE}/e2e/profile/${s.user_id}`);
  assert.equal(nokey.status, 401);
  assert.deepEqual(await nokey.json(), { error: "missing or wrong key" });
  const missing = await fetch(`${BASE}/e2e/profile/00000000-0000-4000-8000-000000000000`, { headers: KEY });
  assert.equal(missing.status, 404);

  // POST: the module credits the player, who gets a notification.
  const socket = await connect(c, s);
  const hook = await fetch(`${BASE}/e2e/webhook`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user_id: s.user_id, sku: "gems_100" }),
  });
  assert.equal(hook.status, 201);
  assert.equal(hook.headers.get("x-handled-by"), "e2e-module");
  assert.deepEqual(await hook.json(), { credited: s.user_id, sku: "gems_100" });
  const bought = await socket.next("notification", (n) => n.code === 102);
  assert.deepEqual(bought.content, { sku: "gems_100" });
  const stored = await c.listNotifications(s, 10);
  assert.deepEqual(stored.notifications.map((n) => n.code), [102]);

  // A module Error becomes Nakama's error body; a malformed body is 400.
  const bad = await fetch(`${BASE}/e2e/webhook`, { method: "POST", body: JSON.stringify({ sku: "x" }) });
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { code: 3, message: "user_id is required" });
  const junk = await fetch(`${BASE}/e2e/webhook`, { method: "POST", body: "{not json" });
  assert.equal(junk.status, 400);

  // The built-in API is unaffected by the routes.
  const health = await fetch(`${BASE}/healthcheck`);
  assert.equal(health.status, 200);
});
