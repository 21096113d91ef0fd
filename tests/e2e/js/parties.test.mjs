// Parties through the official nakama-js client: a leader creates a closed party, two players
// ask to join and are accepted, the members exchange party data, the leader leaves and
// leadership passes to the oldest member, and the party queues in the matchmaker as one ticket
// (addMatchmakerParty) and is matched, every member told, with a solo player.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { client, connect, nativeSetTimeout, player } from "./harness.mjs";

const decoder = new TextDecoder();
const KINDS = ["party", "party_presence", "party_leader", "party_join_request", "party_data",
  "party_close", "party_matchmaker_ticket", "matchmaker_matched"];

// A connected socket that keeps its party pushes (and matchmaker_matched): `await s.got(kind,
// where)` takes the first matching one, or fails after a timeout.
async function member(c, session) {
  const socket = await connect(c, session);
  const events = [];
  let wake = () => {};
  const keep = (kind) => (body) => { events.push({ kind, body }); wake(); };
  socket.onparty = keep("party");
  socket.onpartypresence = keep("party_presence");
  socket.onpartyleader = keep("party_leader");
  socket.onpartyjoinrequest = keep("party_join_request");
  socket.onpartydata = keep("party_data");
  socket.onpartyclose = keep("party_close");
  socket.onpartymatchmakerticket = keep("party_matchmaker_ticket");
  socket.onmatchmakermatched = keep("matchmaker_matched");
  socket.got = async (kind, where = () => true, timeoutMs = 10000) => {
    assert.ok(KINDS.includes(kind), kind);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = events.findIndex((e) => e.kind === kind && where(e.body));
      if (i >= 0) return events.splice(i, 1)[0].body;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${kind} push; have ${JSON.stringify(events)}`);
      await new Promise((resolve) => { wake = resolve; nativeSetTimeout(resolve, Math.min(left, 50)); });
    }
  };
  socket.nothing = async (kind, waitMs = 300) => {
    await new Promise((resolve) => nativeSetTimeout(resolve, waitMs));
    assert.deepEqual(events.filter((e) => e.kind === kind), []);
  };
  return socket;
}

const ids = (presences) => (presences || []).map((p) => p.user_id);
const joins = (userId) => (e) => ids(e.joins).includes(userId);

test("a closed party: requests, accepts, data, a leader leaving, and queueing together", async () => {
  const c = client();
  const [ls, as, bs, ss] = [await player(c), await player(c), await player(c), await player(c)];
  const [lead, ann, bob, solo] = [await member(c, ls), await member(c, as), await member(c, bs),
    await member(c, ss)];

  // The leader creates a closed party of at most 3.
  const party = await lead.createParty(false, 3);
  const partyId = party.party_id;
  assert.match(partyId, /^[0-9a-f-]{36}\.(kizuna(-\d+)?|node\d+)$/);
  assert.equal(party.open, undefined); // false: left out, as protojson does
  assert.equal(party.max_size, 3);
  assert.equal(party.leader.user_id, ls.user_id);
  assert.deepEqual(ids(party.presences), [ls.user_id]);
  assert.equal(party.self.session_id, party.leader.session_id);

  // Two players ask; the leader is told of each and lists them.
  await ann.joinParty(partyId);
  await bob.joinParty(partyId);
  const askA = await lead.got("party_join_request", (r) => ids(r.presences)[0] === as.user_id);
  const askB = await lead.got("party_join_request", (r) => ids(r.presences)[0] === bs.user_id);
  assert.equal(askA.party_id, partyId);
  const listed = await lead.listPartyJoinRequests(partyId);
  assert.deepEqual(ids(listed.presences), [as.user_id, bs.user_id]);
  await ann.nothing("party");
  await assert.rejects(ann.acceptPartyMember(partyId, askB.presences[0]),
    { code: 3, message: "Error accepting party join request: party leader only" });

  // Accepted, each gets the party; the members see them join.
  await lead.acceptPartyMember(partyId, askA.presences[0]);
  const annParty = await ann.got("party");
  assert.equal(annParty.party_id, partyId);
  assert.equal(annParty.leader.user_id, ls.user_id);
  assert.deepEqual(ids(annParty.presences), [ls.user_id, as.user_id]);
  await lead.got("party_presence", joins(as.user_id));
  await lead.acceptPartyMember(partyId, askB.presences[0]);
  const bobParty = await bob.got("party");
  assert.deepEqual(ids(bobParty.presences), [ls.user_id, as.user_id, bs.user_id]);
  for (const s of [lead, ann]) await s.got("party_presence", joins(bs.user_id));
  assert.deepEqual((await lead.listPartyJoinRequests(partyId)).presences, undefined);
  // Full now: a fourth is refused.
  await assert.rejects(solo.joinParty(partyId), { code: 3, message: "Error joining party: party full" });

  // Party data: to the other members, not back to the sender.
  await ann.sendPartyData(partyId, 7, JSON.stringify({ ready: true }));
  for (const s of [lead, bob]) {
    const d = await s.got("party_data");
    assert.equal(d.party_id, partyId);
    assert.equal(d.op_code, 7);
    assert.equal(d.presence.user_id, as.user_id);
    assert.deepEqual(JSON.parse(decoder.decode(d.data)), { ready: true });
  }
  await ann.nothing("party_data");

  // The leader leaves: the oldest remaining member (ann) leads, and everyone left is told.
  await lead.leaveParty(partyId);
  for (const s of [ann, bob]) {
    const leader = await s.got("party_leader");
    assert.deepEqual({ party: leader.party_id, user: leader.presence.user_id },
      { party: partyId, user: as.user_id });
    const left = await s.got("party_presence", (e) => ids(e.leaves).includes(ls.user_id));
    assert.equal(left.party_id, partyId);
  }
  await assert.rejects(bob.closeParty(partyId),
    { code: 3, message: "Error closing party: party leader only" });

  // The party queues as one ticket (its two members) and meets a solo player.
  const pool = randomUUID();
  const query = `+properties.pool:${pool}`;
  const ticket = await ann.addMatchmakerParty(partyId, query, 3, 3, { pool }, { rank: 5 });
  assert.equal(ticket.party_id, partyId);
  const told = await bob.got("party_matchmaker_ticket");
  assert.deepEqual(told, { party_id: partyId, ticket: ticket.ticket });
  await solo.addMatchmaker(query, 3, 3, { pool });
  const matched = {};
  for (const [name, s] of [["ann", ann], ["bob", bob], ["solo", solo]]) {
    matched[name] = await s.got("matchmaker_matched");
  }
  assert.deepEqual(ids(matched.ann.users.map((u) => u.presence)).sort(),
    [as.user_id, bs.user_id, ss.user_id].sort());
  for (const u of matched.ann.users) {
    assert.equal(u.party_id, u.presence.user_id === ss.user_id ? undefined : partyId);
  }
  assert.equal(matched.ann.ticket, ticket.ticket);
  assert.equal(matched.bob.ticket, ticket.ticket);
  assert.notEqual(matched.solo.ticket, ticket.ticket);
  assert.ok(matched.ann.token && matched.ann.token === matched.solo.token);
  assert.equal(matched.bob.self.presence.user_id, bs.user_id);

  // They meet in the relayed match of the token.
  const m1 = await ann.joinMatch(undefined, matched.ann.token);
  const m2 = await bob.joinMatch(undefined, matched.bob.token);
  const m3 = await solo.joinMatch(undefined, matched.solo.token);
  assert.ok(m1.match_id === m2.match_id && m2.match_id === m3.match_id);

  // The leader closes the party: every member is told.
  await ann.closeParty(partyId);
  for (const s of [ann, bob]) assert.deepEqual(await s.got("party_close"), { party_id: partyId });
  await assert.rejects(lead.joinParty(partyId),
    { code: 3, message: "Error joining party: party not found" });
});

test("an open party: joined at once, a member promoted and one removed", async () => {
  const c = client();
  const [ls, as, bs] = [await player(c), await player(c), await player(c)];
  const [lead, ann, bob] = [await member(c, ls), await member(c, as), await member(c, bs)];
  const party = await lead.createParty(true, 8);
  assert.equal(party.open, true);
  await ann.joinParty(party.party_id);
  const annParty = await ann.got("party");
  await bob.joinParty(party.party_id);
  const bobParty = await bob.got("party");
  assert.deepEqual(ids(bobParty.presences), [ls.user_id, as.user_id, bs.user_id]);
  await lead.got("party_presence", joins(bs.user_id));

  await lead.promotePartyMember(party.party_id, bobParty.self);
  for (const s of [lead, ann, bob]) {
    assert.equal((await s.got("party_leader")).presence.user_id, bs.user_id);
  }
  await bob.removePartyMember(party.party_id, annParty.self);
  assert.deepEqual(await ann.got("party_close"), { party_id: party.party_id });
  await lead.got("party_presence", (e) => ids(e.leaves).includes(as.user_id));
});
