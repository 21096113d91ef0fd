// A cluster of nodes (KZ_CLUSTER_PORTS: one port per node), through the official nakama-js client:
// players on different nodes chat in rooms and directly, follow each other's status, receive
// notifications, play one relayed match and see each other's joins and leaves, exactly as on one
// node. Run by tests/cluster/test_cluster_js.py against real `kizuna server` processes on NATS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@heroiclabs/nakama-js";
import { HOST, connect, player, uniq } from "./harness.mjs";

const PORTS = (process.env.KZ_CLUSTER_PORTS || "").split(",").filter(Boolean);
assert.ok(PORTS.length >= 3, "KZ_CLUSTER_PORTS names three nodes");
const at = (i) => new Client("defaultkey", HOST, PORTS[i], false, 10000, false);
const decoder = new TextDecoder();

test("room chat across three nodes: joins, messages and leaves reach every node", async () => {
  const [n1, n2, n3] = [at(0), at(1), at(2)];
  const [alice, bob, carol] = [await player(n1), await player(n2), await player(n3)];
  const a = await connect(n1, alice);
  const b = await connect(n2, bob);
  const k = await connect(n3, carol);
  const room = uniq("room").slice(0, 40);

  const chA = await a.joinChat(room, 1, true, false);
  const chB = await b.joinChat(room, 1, true, false);
  assert.deepEqual(chB.presences.map((p) => p.user_id), [alice.user_id]);
  await a.next("channel_presence", (e) => e.joins && e.joins[0].user_id === bob.user_id);
  const chK = await k.joinChat(room, 1, true, false);
  assert.deepEqual(chK.presences.map((p) => p.user_id).sort(), [alice.user_id, bob.user_id].sort());
  await a.next("channel_presence", (e) => e.joins && e.joins[0].user_id === carol.user_id);
  await b.next("channel_presence", (e) => e.joins && e.joins[0].user_id === carol.user_id);

  for (const [sock, ch, who] of [[a, chA, alice], [b, chB, bob], [k, chK, carol]]) {
    const ack = await sock.writeChatMessage(ch.id, { from: who.username });
    for (const other of [a, b, k]) {
      const got = await other.next("channel_message", (m) => m.message_id === ack.message_id);
      assert.deepEqual(got.content, { from: who.username });
      assert.equal(got.sender_id, who.user_id);
    }
  }

  await k.leaveChat(chK.id);
  const left = await a.next("channel_presence", (e) => e.leaves);
  assert.equal(left.leaves[0].user_id, carol.user_id);
  await b.next("channel_presence", (e) => e.leaves && e.leaves[0].user_id === carol.user_id);

  b.disconnect(false);
  const gone = await a.next("channel_presence", (e) => e.leaves);
  assert.equal(gone.leaves[0].user_id, bob.user_id);
});

test("direct messages between players on different nodes", async () => {
  const [n1, n3] = [at(0), at(2)];
  const [alice, bob] = [await player(n1), await player(n3)];
  const a = await connect(n1, alice);
  const b = await connect(n3, bob);
  const dmA = await a.joinChat(bob.user_id, 2, true, false);
  const dmB = await b.joinChat(alice.user_id, 2, true, false);
  assert.equal(dmA.id, dmB.id);
  const ack = await a.writeChatMessage(dmA.id, { hi: "bob" });
  const got = await b.next("channel_message", (m) => m.message_id === ack.message_id);
  assert.deepEqual(got.content, { hi: "bob" });
});

test("status across nodes: follow, update, online in listings, disconnect", async () => {
  const [n1, n2, n3] = [at(0), at(1), at(2)];
  const [alice, bob] = [await player(n1), await player(n2)];
  const a = await connect(n1, alice, true);
  const b = await connect(n2, bob, false);
  const status = await b.followUsers([alice.user_id]);
  assert.equal(status.presences.length, 1);
  assert.equal(status.presences[0].user_id, alice.user_id);

  // Online as seen from a third node's REST API.
  const seen = await n3.getUsers(bob, [alice.user_id]);
  assert.equal(seen.users[0].online, true);

  await a.updateStatus("in a match");
  const update = await b.next("status_presence", (e) => e.joins);
  assert.equal(update.joins[0].status, "in a match");

  // Alice's second device, on the third node: Bob sees it come and go.
  const a2 = await connect(n3, alice, true);
  const back = await b.next("status_presence", (e) => e.joins && !e.leaves);
  assert.equal(back.joins[0].user_id, alice.user_id);
  a2.disconnect(false);
  await b.next("status_presence", (e) => e.leaves && !e.joins);

  a.disconnect(false);
  const gone = await b.next("status_presence", (e) => e.leaves);
  assert.equal(gone.leaves[0].user_id, alice.user_id);
  for (let i = 0; i < 50; i++) { // offline everywhere
    const u = await n3.getUsers(bob, [alice.user_id]);
    if (!u.users[0].online) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail("alice still shows online on node 3");
});

test("notifications reach a player connected to another node", async () => {
  const [n1, n2] = [at(0), at(1)];
  const [alice, bob] = [await player(n1), await player(n2)];
  const a = await connect(n1, alice);
  await n2.addFriends(bob, [alice.user_id]); // a friend request notifies alice
  const note = await a.next("notification");
  assert.equal(note.code, -2);
  assert.equal(note.sender_id, bob.user_id);
});

test("relayed match across nodes: create, join, data, leave", async () => {
  const [n1, n2, n3] = [at(0), at(1), at(2)];
  const [alice, bob, carol] = [await player(n1), await player(n2), await player(n3)];
  const a = await connect(n1, alice);
  const b = await connect(n2, bob);
  const k = await connect(n3, carol);

  const match = await a.createMatch();
  const joined = await b.joinMatch(match.match_id);
  assert.deepEqual(joined.presences.map((p) => p.user_id), [alice.user_id]);
  const ev = await a.next("match_presence", (e) => e.joins && e.joins[0].user_id === bob.user_id);
  assert.equal(ev.match_id, match.match_id);
  const joinedK = await k.joinMatch(match.match_id);
  assert.equal(joinedK.presences.length, 2);
  await a.next("match_presence", (e) => e.joins && e.joins[0].user_id === carol.user_id);
  await b.next("match_presence", (e) => e.joins && e.joins[0].user_id === carol.user_id);

  await a.sendMatchState(match.match_id, 5, JSON.stringify({ x: 1 }));
  for (const s of [b, k]) {
    const data = await s.next("match_data");
    assert.equal(data.op_code, 5);
    assert.deepEqual(JSON.parse(decoder.decode(data.data)), { x: 1 });
    assert.equal(data.presence.user_id, alice.user_id);
  }
  await k.sendMatchState(match.match_id, 7, "to alice", [match.self]);
  const direct = await a.next("match_data", (d) => d.op_code === 7);
  assert.equal(decoder.decode(direct.data), "to alice");
  await b.none("match_data");

  await b.leaveMatch(match.match_id);
  await a.next("match_presence", (e) => e.leaves && e.leaves[0].user_id === bob.user_id);
  await k.next("match_presence", (e) => e.leaves && e.leaves[0].user_id === bob.user_id);
  k.disconnect(false);
  await a.next("match_presence", (e) => e.leaves && e.leaves[0].user_id === carol.user_id);

  // A named match is the same match on every node.
  const name = uniq("arena");
  const m1 = await a.createMatch(name);
  const m2 = await b.createMatch(name);
  assert.equal(m1.match_id, m2.match_id);
  assert.equal(m2.size, 2);
});
