// The realtime socket through the official nakama-js client: chat (rooms, history, update and
// remove, direct messages), notifications, status presence and relayed matches.
import { test } from "node:test";
import assert from "node:assert/strict";
import { client, connect, httpError, player, uniq } from "./harness.mjs";

const decoder = new TextDecoder();


test("room chat: join, presence, messages, history pages, update and remove", async () => {
  const c = client();
  const [alice, bob] = [await player(c), await player(c)];
  const a = await connect(c, alice);
  const b = await connect(c, bob);
  const room = uniq("room").slice(0, 40);

  const chA = await a.joinChat(room, 1, true, false);
  assert.equal(chA.id, `2...${room}`);
  assert.equal(chA.room_name, room);
  assert.equal(chA.self.user_id, alice.user_id);
  assert.equal(chA.self.username, alice.username);
  assert.equal(chA.presences, undefined);

  const chB = await b.joinChat(room, 1, true, false);
  assert.deepEqual(chB.presences.map((p) => p.user_id), [alice.user_id]);
  const joined = await a.next("channel_presence", (e) => e.joins && e.joins[0].user_id === bob.user_id);
  assert.equal(joined.channel_id, chA.id);
  assert.equal(joined.joins[0].session_id, chB.self.session_id);

  const ack = await a.writeChatMessage(chA.id, { message: "hello from nakama-js" });
  assert.equal(ack.channel_id, chA.id);
  assert.equal(ack.code, 0);
  assert.equal(ack.persistent, true);
  assert.equal(ack.username, alice.username);
  const got = await b.next("channel_message", (m) => m.message_id === ack.message_id);
  assert.deepEqual(got.content, { message: "hello from nakama-js" });
  assert.equal(got.sender_id, alice.user_id);
  assert.equal(got.room_name, room);
  await a.next("channel_message", (m) => m.message_id === ack.message_id); // the sender gets it too

  const ids = [ack.message_id];
  for (let i = 1; i < 7; i++) ids.push((await b.writeChatMessage(chB.id, { n: i })).message_id);

  // History: pages of 3, forward, then back with the previous cursor.
  const p1 = await c.listChannelMessages(alice, chA.id, 3, true);
  assert.deepEqual(p1.messages.map((m) => m.message_id), ids.slice(0, 3));
  assert.deepEqual(p1.messages[0].content, { message: "hello from nakama-js" });
  assert.equal(p1.messages[0].code, 0);
  assert.equal(p1.messages[0].persistent, true);
  assert.ok(p1.next_cursor);
  const p2 = await c.listChannelMessages(alice, chA.id, 3, true, p1.next_cursor);
  assert.deepEqual(p2.messages.map((m) => m.message_id), ids.slice(3, 6));
  assert.deepEqual(p2.messages.map((m) => m.content.n), [3, 4, 5]);
  const p3 = await c.listChannelMessages(alice, chA.id, 3, true, p2.next_cursor);
  assert.deepEqual(p3.messages.map((m) => m.message_id), ids.slice(6));
  assert.equal(p3.next_cursor, undefined);
  const back = await c.listChannelMessages(alice, chA.id, 3, true, p2.prev_cursor);
  assert.deepEqual(back.messages.map((m) => m.message_id), ids.slice(0, 3));
  const newest = await c.listChannelMessages(bob, chA.id, 2, false);
  assert.deepEqual(newest.messages.map((m) => m.message_id), [ids[6], ids[5]]);

  // Update and remove: the sender only.
  const upd = await a.updateChatMessage(chA.id, ack.message_id, { message: "edited" });
  assert.equal(upd.code, 1);
  const edited = await b.next("channel_message", (m) => m.code === 1);
  assert.deepEqual(edited.content, { message: "edited" });
  await assert.rejects(b.updateChatMessage(chB.id, ack.message_id, { message: "mine now" }),
    { code: 3, message: "Could not find message to update in channel history" });
  const rem = await a.removeChatMessage(chA.id, ack.message_id);
  assert.equal(rem.code, 2);
  const removed = await b.next("channel_message", (m) => m.code === 2);
  assert.equal(removed.message_id, ack.message_id);
  const remaining = await c.listChannelMessages(alice, chA.id, 100, true);
  assert.deepEqual(remaining.messages.map((m) => m.message_id), ids.slice(1));

  // Errors reject the client's promise with the server's error.
  await assert.rejects(a.joinChat("", 1, true, false), { code: 3, message: "Invalid channel target" });
  await assert.rejects(a.writeChatMessage("2...not-joined", { x: 1 }),
    { code: 3, message: "Must join channel before sending messages" });
  const bad = await httpError(c.listChannelMessages(alice, chA.id, 101, true));
  assert.equal(bad.status, 400);

  await b.leaveChat(chB.id);
  const left = await a.next("channel_presence", (e) => e.leaves && e.leaves[0].user_id === bob.user_id);
  assert.equal(left.leaves[0].session_id, chB.self.session_id);
});

test("direct messages: the offline user is notified, lists and deletes notifications", async () => {
  const c = client();
  const [alice, bob] = [await player(c), await player(c)];
  const a = await connect(c, alice);
  const dm = await a.joinChat(bob.user_id, 2, true, false);
  const [one, two] = [alice.user_id, bob.user_id].sort();
  assert.equal(dm.id, `4.${one}.${two}.`);
  assert.equal(dm.user_id_one, one);
  assert.equal(dm.user_id_two, two);
  const ack = await a.writeChatMessage(dm.id, { text: "are you there?" });
  assert.equal(ack.user_id_one, one);

  const list = await c.listNotifications(bob, 10);
  assert.equal(list.notifications.length, 1);
  const n = list.notifications[0];
  assert.equal(n.code, -1);
  assert.equal(n.subject, `${alice.username} wants to chat`);
  assert.deepEqual(n.content, { username: alice.username });
  assert.equal(n.sender_id, alice.user_id);
  assert.equal(n.persistent, true);
  assert.ok(list.cacheable_cursor);

  // Bob reads the DM history, then clears the notification.
  const history = await c.listChannelMessages(bob, dm.id, 10, true);
  assert.deepEqual(history.messages.map((m) => m.content), [{ text: "are you there?" }]);
  assert.equal(history.messages[0].user_id_one, one);
  const since = await c.listNotifications(bob, 10, list.cacheable_cursor);
  assert.deepEqual(since.notifications, []);
  assert.equal(await c.deleteNotifications(bob, [n.id]), true);
  const empty = await c.listNotifications(bob, 10);
  assert.deepEqual(empty.notifications, []);
  assert.ok(empty.cacheable_cursor);

  // Someone else may not read the DM.
  const eve = await player(c);
  const denied = await httpError(c.listChannelMessages(eve, dm.id, 10, true));
  assert.deepEqual(denied.body, { code: 3, message: "Channel not found." });
});

test("notifications are pushed live to online users", async () => {
  const c = client();
  const [alice, bob] = [await player(c), await player(c)];
  const b = await connect(c, bob);
  const a = await connect(c, alice);
  await a.joinChat(bob.user_id, 2, true, false);
  const n = await b.next("notification");
  assert.equal(n.code, -1);
  assert.deepEqual(n.content, { username: alice.username });
  assert.equal(n.persistent, true);
  // Once bob is in the DM, a new join of alice does not ask again.
  await b.joinChat(alice.user_id, 2, true, false);
  const a2 = await connect(c, alice);
  await a2.joinChat(bob.user_id, 2, true, false);
  await b.none("notification");
});

test("status: follow, updates and disconnects", async () => {
  const c = client();
  const [alice, bob] = [await player(c), await player(c)];
  const a = await connect(c, alice, true);
  const b = await connect(c, bob, false);
  const status = await b.followUsers([alice.user_id]);
  assert.equal(status.presences.length, 1);
  assert.equal(status.presences[0].user_id, alice.user_id);
  assert.equal(status.presences[0].username, alice.username);
  assert.equal(status.presences[0].status, "");

  await a.updateStatus("in a match");
  const update = await b.next("status_presence", (e) => e.joins);
  assert.equal(update.joins[0].status, "in a match");
  assert.equal(update.leaves[0].status, "");

  await a.updateStatus(); // no status: appear offline
  const offline = await b.next("status_presence", (e) => e.leaves && !e.joins);
  assert.equal(offline.leaves[0].user_id, alice.user_id);

  const a2 = await connect(c, alice, true);
  const back = await b.next("status_presence", (e) => e.joins);
  assert.equal(back.joins[0].user_id, alice.user_id);
  a2.disconnect(false);
  const gone = await b.next("status_presence", (e) => e.leaves);
  assert.equal(gone.leaves[0].user_id, alice.user_id);

  await b.unfollowUsers([alice.user_id]);
  await a.updateStatus("quiet");
  await b.none("status_presence");
});

test("relayed match: create, join, data, leave", async () => {
  const c = client();
  const [alice, bob, carol] = [await player(c), await player(c), await player(c)];
  const a = await connect(c, alice);
  const b = await connect(c, bob);
  const k = await connect(c, carol);

  const match = await a.createMatch();
  assert.match(match.match_id, /^[0-9a-f-]{36}\.$/);
  assert.equal(match.size, 1);
  assert.equal(match.self.user_id, alice.user_id);

  const joined = await b.joinMatch(match.match_id);
  assert.equal(joined.match_id, match.match_id);
  assert.deepEqual(joined.presences.map((p) => p.user_id), [alice.user_id]);
  const ev = await a.next("match_presence", (e) => e.joins && e.joins[0].user_id === bob.user_id);
  assert.equal(ev.match_id, match.match_id);
  await k.joinMatch(match.match_id);

  await a.sendMatchState(match.match_id, 5, JSON.stringify({ x: 1, y: 2 }));
  const data = await b.next("match_data");
  assert.equal(data.op_code, 5);
  assert.deepEqual(JSON.parse(decoder.decode(data.data)), { x: 1, y: 2 });
  assert.equal(data.presence.user_id, alice.user_id);
  await k.next("match_data");
  await a.none("match_data");

  // Only to the listed presences.
  await b.sendMatchState(match.match_id, 9, new Uint8Array([1, 2, 3]), [match.self], true);
  const direct = await a.next("match_data");
  assert.deepEqual([...direct.data], [1, 2, 3]);
  assert.equal(direct.op_code, 9);
  assert.equal(direct.reliable, true);
  await k.none("match_data");

  await assert.rejects(k.joinMatch(`${crypto.randomUUID()}.`), { code: 4, message: "Match not found" });

  await b.leaveMatch(match.match_id);
  const left = await a.next("match_presence", (e) => e.leaves);
  assert.equal(left.leaves[0].user_id, bob.user_id);

  // A named match is the same match for everyone.
  const name = uniq("arena");
  const m1 = await a.createMatch(name);
  const m2 = await b.createMatch(name);
  assert.equal(m1.match_id, m2.match_id);
  assert.equal(m2.size, 2);
});
