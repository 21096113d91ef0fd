// Friends through the official nakama-js client: invites and accepts (with the socket's
// notifications), lists with state filters and cursors, friends of friends, blocks and deletes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { client, connect, httpError, player, uniq } from "./harness.mjs";

const content = (n) => (typeof n.content === "string" ? JSON.parse(n.content) : n.content);

test("invite, accept, list and remove a friend, with live notifications", async () => {
  const c = client();
  const [alice, bob] = [await player(c), await player(c)];
  const a = await connect(c, alice, true);
  const b = await connect(c, bob, true);

  assert.equal(await c.addFriends(alice, [bob.user_id]), true);
  const request = await b.next("notification", (n) => n.code === -2);
  assert.equal(request.sender_id, alice.user_id);
  assert.equal(request.subject, `${alice.username} wants to add you as a friend`);
  assert.deepEqual(content(request), { username: alice.username });
  assert.equal(request.persistent, true);

  const sent = await c.listFriends(alice);
  assert.equal(sent.friends.length, 1);
  assert.equal(sent.friends[0].state, 1);
  assert.equal(sent.friends[0].user.id, bob.user_id);
  assert.equal(sent.friends[0].user.online, true);
  assert.equal((await c.listFriends(bob, 2)).friends[0].user.id, alice.user_id);

  assert.equal(await c.addFriends(bob, undefined, [alice.username]), true);
  const accepted = await a.next("notification", (n) => n.code === -3);
  assert.equal(accepted.sender_id, bob.user_id);
  const friends = await c.listFriends(alice, 0);
  assert.equal(friends.friends.length, 1);
  assert.equal(friends.friends[0].state, 0); // written even though it is 0
  assert.equal(friends.friends[0].user.edge_count, 1);

  const stored = await c.listNotifications(bob, 10);
  assert.deepEqual(stored.notifications.map((n) => n.code), [-2]);

  assert.equal(await c.deleteFriends(alice, [bob.user_id]), true);
  const removed = await b.next("notification", (n) => n.code === -9);
  assert.equal(removed.sender_id, alice.user_id);
  assert.deepEqual((await c.listFriends(alice)).friends, []);
  assert.deepEqual((await c.listFriends(bob)).friends, []);
});

test("blocking: the blocked user cannot invite, delete unblocks", async () => {
  const c = client();
  const [alice, bob] = [await player(c), await player(c)];
  const b = await connect(c, bob, true);
  assert.equal(await c.blockFriends(bob, [alice.user_id]), true);
  const blocked = await c.listFriends(bob, 3);
  assert.deepEqual(blocked.friends.map((f) => [f.user.id, f.state]), [[alice.user_id, 3]]);

  assert.equal(await c.addFriends(alice, [bob.user_id]), true); // no error, no effect
  await b.none("notification");
  assert.deepEqual((await c.listFriends(alice)).friends, []);

  assert.equal(await c.deleteFriends(bob, undefined, [alice.username]), true);
  assert.deepEqual((await c.listFriends(bob)).friends, []);
  assert.equal(await c.addFriends(alice, [bob.user_id]), true);
  await b.next("notification", (n) => n.code === -2);
});

test("pages, friends of friends and Nakama's errors", async () => {
  const c = client();
  const me = await player(c);
  const others = [];
  for (let i = 0; i < 3; i++) others.push(await player(c));
  await c.addFriends(me, others.map((o) => o.user_id));
  for (const o of others) await c.addFriends(o, [me.user_id]);

  const first = await c.listFriends(me, 0, 2);
  assert.equal(first.friends.length, 2);
  assert.ok(first.cursor);
  const second = await c.listFriends(me, 0, 2, first.cursor);
  assert.equal(second.friends.length, 1);
  assert.ok(!second.cursor);
  const ids = [...first.friends, ...second.friends].map((f) => f.user.id).sort();
  assert.deepEqual(ids, others.map((o) => o.user_id).sort());

  // A newcomer befriended by others[0] is my friend of a friend.
  const newcomer = await player(c);
  await c.addFriends(others[0], [newcomer.user_id]);
  await c.addFriends(newcomer, [others[0].user_id]);
  const fof = await c.listFriendsOfFriends(me, 10);
  assert.deepEqual(fof.friends_of_friends.map((f) => [f.referrer, f.user.id]),
    [[others[0].user_id, newcomer.user_id]]);

  let err = await httpError(c.addFriends(me, [me.user_id]));
  assert.equal(err.status, 400);
  assert.deepEqual(err.body, { code: 3, message: "Cannot add self as friend." });
  err = await httpError(c.addFriends(me, ["not-a-uuid"]));
  assert.deepEqual(err.body, { code: 3, message: "Invalid user ID 'not-a-uuid'." });
  err = await httpError(c.addFriends(me, undefined, [uniq("nobody")]));
  assert.deepEqual(err.body, { code: 3, message: "No valid ID or username was provided." });
  err = await httpError(c.listFriends(me, undefined, 5000));
  assert.deepEqual(err.body, { code: 3, message: "Invalid limit - limit must be between 1 and 1000." });
  err = await httpError(c.listFriends(me, 7));
  assert.deepEqual(err.body, { code: 3, message: "Invalid state - state must be between 0 and 3." });
  err = await httpError(c.listFriends(me, 1, 10, "bogus"));
  assert.deepEqual(err.body, { code: 3, message: "Cursor is invalid." });
  err = await httpError(c.blockFriends(me, [me.user_id]));
  assert.deepEqual(err.body, { code: 3, message: "Cannot block self." });
});
