// `session.single_socket` through the official nakama-js client (this suite's server runs with
// `--session.single_socket true`): a user's new socket closes the older one, which first gets
// notification -7.
import { test } from "node:test";
import assert from "node:assert/strict";
import { client, connect, player, uniq } from "./harness.mjs";

function closed(socket) {
  return new Promise((resolve) => { socket.ondisconnect = resolve; });
}

test("a second socket for the same user: the first gets notification -7 and is closed", async () => {
  const c = client();
  const device = uniq("device");
  const alice = await c.authenticateDevice(device);
  const bob = await player(c);
  const room = uniq("room").slice(0, 40);
  const watcher = await connect(c, bob);
  await watcher.joinChat(room, 1, false, false);
  const first = await connect(c, alice, true);
  const firstClosed = closed(first);
  const inRoom = await first.joinChat(room, 1, false, false);
  await watcher.next("channel_presence", (e) => (e.joins || []).some((p) => p.user_id === alice.user_id));

  // The same player signs in again (a second tab, say) and opens a socket.
  const again = await c.authenticateDevice(device);
  assert.equal(again.user_id, alice.user_id);
  const second = await connect(c, again, true);

  const kicked = await first.next("notification", (n) => n.code === -7);
  assert.equal(kicked.subject, "single_socket");
  assert.deepEqual(kicked.content, {});
  assert.ok(!kicked.persistent, "not stored"); // false is omitted on the wire, as Nakama does
  assert.ok(!kicked.sender_id, "sent by the server");
  assert.match(kicked.id, /^[0-9a-f-]{36}$/);
  const evt = await firstClosed;
  assert.equal(evt.code, 1000);

  // The kicked socket's presence leaves the room it was in.
  const left = await watcher.next("channel_presence", (e) => (e.leaves || []).some((p) => p.user_id === alice.user_id));
  assert.equal(left.leaves[0].session_id, inRoom.self.session_id);

  // The new socket works and was not told anything.
  const pong = await second.send({ ping: {} });
  assert.deepEqual(pong.pong, {});
  const joined = await second.joinChat(room, 1, false, false);
  assert.equal(joined.self.user_id, alice.user_id);
  assert.notEqual(joined.self.session_id, inRoom.self.session_id);
  await second.none("notification");

  // The kick notice is not stored.
  const stored = await c.listNotifications(alice, 100);
  assert.deepEqual(stored.notifications.filter((n) => n.code === -7), []);

  // The user stays online through the new socket.
  const { users } = await c.getUsers(bob, [alice.user_id]);
  assert.equal(users[0].online, true);
});

test("each new socket closes the previous one; other users' sockets are untouched", async () => {
  const c = client();
  const [alice, bob] = [await player(c), await player(c)];
  const bobSocket = await connect(c, bob);
  const a1 = await connect(c, alice);
  const a1Closed = closed(a1);
  const a2 = await connect(c, alice);
  await a1.next("notification", (n) => n.code === -7);
  await a1Closed;
  const a2Closed = closed(a2);
  const a3 = await connect(c, alice);
  await a2.next("notification", (n) => n.code === -7);
  await a2Closed;
  assert.deepEqual((await a3.send({ ping: {} })).pong, {});
  assert.deepEqual((await bobSocket.send({ ping: {} })).pong, {});
  await bobSocket.none("notification");
});
