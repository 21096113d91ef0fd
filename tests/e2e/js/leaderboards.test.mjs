// Leaderboards, tournaments and the wallet through the official nakama-js client. The server loads
// tests/e2e/modules/leaderboards.py (test_nakama_js.py starts it with --runtime.path), which
// creates the boards in init_module:
//   e2e_desc           desc, best, metadata {"season": 1}, ranks
//   e2e_asc            asc, best, ranks                       (paging)
//   e2e_incr           desc, incr, ranks
//   e2e_authoritative  authoritative, desc, best, ranks       (RPC submit_authoritative writes)
//   e2e_daily          desc, set, resets at 00:00 UTC, ranks
//   e2e_cup            tournament: category 3, 1 h, join required, max_size 100, 3 writes each
//   e2e_cup_auth       authoritative tournament, category 3
//   e2e_later          tournament starting tomorrow, category 9
// and the RPC grant_coins (nk.wallet_update).
//
// What nakama-js 2.8.0 does with these shapes (client.ts), which the assertions below rely on:
// records come back with score/subscore/rank/num_score/max_num_score as numbers (the server sends
// the int64s as strings), metadata parsed from its JSON string, and create_time dropped; the
// request's metadata object is sent as a JSON string. There is no Client.deleteLeaderboardRecord:
// a game calls client.apiClient.deleteLeaderboardRecord(token, id). writeTournamentRecord sends
// PUT /v2/tournament/{id} (writeTournamentRecord2 on the apiClient: POST).
import { test } from "node:test";
import assert from "node:assert/strict";
import { client, player, httpError } from "./harness.mjs";

const c = client();
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

async function players(n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await player(c));
  return out;
}

const scores = (list) => list.map((r) => [r.owner_id, r.score, r.rank]);

test("writeLeaderboardRecord: the record as the client types it", async () => {
  const p = await player(c);
  const rec = await c.writeLeaderboardRecord(p, "e2e_desc",
    { score: "100", subscore: "7", metadata: { level: "1-1", stars: 3 } });
  assert.equal(rec.leaderboard_id, "e2e_desc");
  assert.equal(rec.owner_id, p.user_id);
  assert.equal(rec.username, p.username);
  assert.equal(rec.score, 100);
  assert.equal(rec.subscore, 7);
  assert.equal(rec.num_score, 1);
  assert.equal(rec.rank, 1);
  assert.equal(rec.max_num_score, 1000000);
  assert.deepEqual(rec.metadata, { level: "1-1", stars: 3 });
  assert.match(rec.update_time, ISO);
  assert.equal(rec.expiry_time, undefined); // no reset schedule: the record never expires

  // best: a lower score keeps the best one; a higher one replaces it (metadata too). As in
  // Nakama, score and subscore are each kept at their best (GREATEST of each).
  const lower = await c.writeLeaderboardRecord(p, "e2e_desc", { score: "40" });
  assert.equal(lower.score, 100);
  assert.equal(lower.subscore, 7);
  const higher = await c.writeLeaderboardRecord(p, "e2e_desc",
    { score: 150, subscore: 0, metadata: { level: "1-2" } }); // a JS number is accepted too
  assert.equal(higher.score, 150);
  assert.equal(higher.subscore, 7);
  assert.deepEqual(higher.metadata, { level: "1-2" });
  assert.ok(higher.num_score >= 2);

  // Another player, below: ranks as a game shows them.
  const q = await player(c);
  const second = await c.writeLeaderboardRecord(q, "e2e_desc", { score: "120" });
  assert.equal(second.rank, 2);
  assert.deepEqual(second.metadata, {}); // stored as "{}" when none is given, as by Nakama

  const list = await c.listLeaderboardRecords(p, "e2e_desc", undefined, 10);
  assert.deepEqual(scores(list.records), [[p.user_id, 150, 1], [q.user_id, 120, 2]]);
  assert.deepEqual(list.records.map((r) => r.username), [p.username, q.username]);
  assert.deepEqual(list.records[0].metadata, { level: "1-2" });
  assert.equal(list.rank_count, 2);
  assert.equal(list.next_cursor, undefined);
  assert.equal(list.prev_cursor, undefined);
  assert.deepEqual(list.owner_records, []);

  // int64 scores: strings beyond int32 (the client turns them into JS numbers), no negatives.
  const big = await c.writeLeaderboardRecord(q, "e2e_desc", { score: "9007199254740991" });
  assert.equal(big.score, Number.MAX_SAFE_INTEGER);
  assert.equal(big.rank, 1);
  const negative = await httpError(c.writeLeaderboardRecord(p, "e2e_desc", { score: "-1" }));
  assert.equal(negative.status, 400);
  assert.equal(negative.body.message, "Invalid score value, must be >= 0.");

  // incr adds each write to the score.
  await c.writeLeaderboardRecord(p, "e2e_incr", { score: "5" });
  const incr = await c.writeLeaderboardRecord(p, "e2e_incr", { score: "7", subscore: "1" });
  assert.deepEqual([incr.score, incr.subscore, incr.num_score], [12, 1, 2]);
});

test("listLeaderboardRecords: pages with next_cursor/prev_cursor, owner records, around owner",
  async () => {
    const ps = await players(5);
    // asc: lower is better, so player i has rank i + 1.
    for (const [i, p] of ps.entries()) {
      await c.writeLeaderboardRecord(p, "e2e_asc", { score: String((i + 1) * 10), subscore: "1" });
    }
    const ids = ps.map((p) => p.user_id);
    const me = ps[0];

    const first = await c.listLeaderboardRecords(me, "e2e_asc", undefined, 2);
    assert.deepEqual(scores(first.records), [[ids[0], 10, 1], [ids[1], 20, 2]]);
    assert.equal(first.rank_count, 5);
    assert.ok(first.next_cursor);
    assert.equal(first.prev_cursor, undefined);

    const second = await c.listLeaderboardRecords(me, "e2e_asc", undefined, 2, first.next_cursor);
    assert.deepEqual(scores(second.records), [[ids[2], 30, 3], [ids[3], 40, 4]]);
    assert.ok(second.next_cursor);
    assert.ok(second.prev_cursor);

    const third = await c.listLeaderboardRecords(me, "e2e_asc", undefined, 2, second.next_cursor);
    assert.deepEqual(scores(third.records), [[ids[4], 50, 5]]);
    assert.equal(third.next_cursor, undefined);
    assert.ok(third.prev_cursor);

    const back = await c.listLeaderboardRecords(me, "e2e_asc", undefined, 2, third.prev_cursor);
    assert.deepEqual(scores(back.records), scores(second.records));
    const start = await c.listLeaderboardRecords(me, "e2e_asc", undefined, 2, second.prev_cursor);
    assert.deepEqual(scores(start.records), scores(first.records));
    assert.equal(start.prev_cursor, undefined);

    // Owner records ride along with a page (owner_ids repeated in the query string).
    const owned = await c.listLeaderboardRecords(me, "e2e_asc", [ids[4], ids[2]], 1);
    assert.deepEqual(scores(owned.records), [[ids[0], 10, 1]]);
    assert.deepEqual(scores(owned.owner_records).sort((a, b) => a[2] - b[2]),
      [[ids[2], 30, 3], [ids[4], 50, 5]]);
    // Without a limit, only the owners' records (Nakama's rule).
    const onlyOwners = await c.listLeaderboardRecords(me, "e2e_asc", [ids[3]]);
    assert.deepEqual(onlyOwners.records, []);
    assert.deepEqual(scores(onlyOwners.owner_records), [[ids[3], 40, 4]]);

    // Around an owner: the owner's record in the middle of `limit` records.
    const around = await c.listLeaderboardRecordsAroundOwner(me, "e2e_asc", ids[2], 3);
    assert.deepEqual(scores(around.records), [[ids[1], 20, 2], [ids[2], 30, 3], [ids[3], 40, 4]]);
    assert.equal(around.rank_count, 5);
    // Its cursors page on from there, with the same method.
    assert.ok(around.next_cursor && around.prev_cursor);
    const onward = await c.listLeaderboardRecordsAroundOwner(me, "e2e_asc", ids[2], 3, undefined,
      around.next_cursor);
    assert.deepEqual(scores(onward.records), [[ids[4], 50, 5]]);
    // At the top, the window slides down; the caller's own record included.
    const top = await c.listLeaderboardRecordsAroundOwner(me, "e2e_asc", me.user_id, 2);
    assert.deepEqual(scores(top.records), [[ids[0], 10, 1], [ids[1], 20, 2]]);

    // Unknown board and a malformed owner: errors a game can tell apart.
    const missing = await httpError(c.listLeaderboardRecords(me, "no_such_board"));
    assert.equal(missing.status, 404);
    assert.equal(missing.body.message, "Leaderboard not found.");
    const badOwner = await httpError(c.listLeaderboardRecords(me, "e2e_asc", ["not-a-uuid"], 5));
    assert.equal(badOwner.status, 400);
    assert.equal(badOwner.body.message, "One or more owner IDs are invalid.");
  });

test("a board with a reset schedule: expiry_time, and listing a period by expiry", async () => {
  const p = await player(c);
  const rec = await c.writeLeaderboardRecord(p, "e2e_daily", { score: "9" });
  const midnight = new Date();
  midnight.setUTCHours(24, 0, 0, 0);
  // expiry_time stays the Timestamp string the server sent (the client converts no times).
  assert.equal(rec.expiry_time, midnight.toISOString().replace(".000Z", "Z"));
  const expiry = String(midnight.getTime() / 1000);
  const now = await c.listLeaderboardRecords(p, "e2e_daily", undefined, 10, undefined, expiry);
  assert.deepEqual(scores(now.records), [[p.user_id, 9, 1]]);
  const current = await c.listLeaderboardRecords(p, "e2e_daily", undefined, 10);
  assert.deepEqual(scores(current.records), [[p.user_id, 9, 1]]);
  const yesterday = String(midnight.getTime() / 1000 - 86400);
  const past = await c.listLeaderboardRecords(p, "e2e_daily", undefined, 10, undefined, yesterday);
  assert.deepEqual(past.records, []);
  const around = await c.listLeaderboardRecordsAroundOwner(p, "e2e_daily", p.user_id, 5, expiry);
  assert.deepEqual(scores(around.records), [[p.user_id, 9, 1]]);
  const bad = await httpError(c.listLeaderboardRecords(p, "e2e_daily", undefined, 10, undefined, "-1"));
  assert.equal(bad.status, 400);
});

test("deleteLeaderboardRecord through the apiClient (nakama-js has no Client method for it)",
  async () => {
    const [p, q] = await players(2);
    await c.writeLeaderboardRecord(p, "e2e_desc", { score: "1" });
    await c.writeLeaderboardRecord(q, "e2e_desc", { score: "2" });
    await c.apiClient.deleteLeaderboardRecord(p.token, "e2e_desc");
    const after = await c.listLeaderboardRecords(p, "e2e_desc", [p.user_id, q.user_id]);
    assert.deepEqual(after.owner_records.map((r) => r.owner_id), [q.user_id]);
    // Deleting again is no error.
    await c.apiClient.deleteLeaderboardRecord(p.token, "e2e_desc");
  });

test("authoritative boards: client writes and deletes refused with 403, server writes visible",
  async () => {
    const p = await player(c);
    const refused = await httpError(c.writeLeaderboardRecord(p, "e2e_authoritative", { score: "10" }));
    // REST errors are {code, message} (RPC errors add `error`), as Nakama's gateway sends them.
    const message = "Leaderboard only allows authoritative score submissions.";
    assert.deepEqual(refused, { status: 403, body: { code: 7, message } });
    const noDelete = await httpError(c.apiClient.deleteLeaderboardRecord(p.token, "e2e_authoritative"));
    assert.equal(noDelete.status, 403);
    assert.equal(noDelete.body.message, "Leaderboard only allows authoritative score deletions.");

    const res = await c.rpc(p, "submit_authoritative", { score: 77 });
    assert.deepEqual(res.payload, { score: 77, rank: 1 });
    const list = await c.listLeaderboardRecords(p, "e2e_authoritative", [p.user_id], 10);
    assert.deepEqual(scores(list.records), [[p.user_id, 77, 1]]);
    assert.deepEqual(list.owner_records[0].metadata, { by: "server" });
    assert.equal(list.owner_records[0].username, p.username);
  });

test("listTournaments: the tournaments with their fields", async () => {
  const p = await player(c);
  const now = Math.floor(Date.now() / 1000);
  const all = await c.listTournaments(p);
  // The defaults: every category and start, those not ended (current and upcoming).
  const byId = Object.fromEntries(all.tournaments.map((t) => [t.id, t]));
  assert.deepEqual(Object.keys(byId).sort(), ["e2e_cup", "e2e_cup_auth", "e2e_later"]);
  const cup = byId.e2e_cup;
  assert.equal(cup.title, "E2E Cup");
  assert.equal(cup.description, "Join, then score.");
  assert.equal(cup.category, 3);
  assert.equal(cup.sort_order, 1); // desc
  assert.equal(cup.duration, 3600);
  assert.equal(cup.max_size, 100);
  assert.equal(cup.max_num_score, 3);
  assert.equal(cup.can_enter, true);
  assert.equal(cup.authoritative, undefined); // false is omitted on the wire, as by Nakama
  assert.deepEqual(cup.metadata, { prize: "cup" });
  assert.match(cup.create_time, ISO);
  assert.match(cup.start_time, ISO);
  assert.equal(cup.end_time, undefined);
  assert.equal(typeof cup.start_active, "number");
  assert.ok(Math.abs(cup.start_active - now) < 120, `start_active ${cup.start_active}`);
  assert.equal(cup.end_active, cup.start_active + 3600);
  assert.equal(byId.e2e_cup_auth.authoritative, true);

  // Categories (inclusive) and the time window as query parameters.
  const only9 = await c.listTournaments(p, 9, 9);
  assert.deepEqual(only9.tournaments.map((t) => t.id), ["e2e_later"]);
  const none = await c.listTournaments(p, 50, 60); // the server sends {}: the client gives []
  assert.deepEqual(none.tournaments, []);
  assert.equal(none.cursor, undefined);
  const cat3 = await c.listTournaments(p, 3, 4);
  assert.deepEqual(cat3.tournaments.map((t) => t.id).sort(), ["e2e_cup", "e2e_cup_auth"]);
  const later = await c.listTournaments(p, 9, 10, now, now + 3 * 86400);
  assert.deepEqual(later.tournaments.map((t) => t.id), ["e2e_later"]);
  assert.equal(later.tournaments[0].can_enter, undefined); // false, omitted on the wire
  assert.equal(later.tournaments[0].sort_order, 0); // asc
  assert.ok(later.tournaments[0].end_time); // a Timestamp string

  // Paging with a limit and the list's cursor.
  const page1 = await c.listTournaments(p, 3, 4, undefined, undefined, 1);
  assert.equal(page1.tournaments.length, 1);
  assert.ok(page1.cursor);
  const page2 = await c.listTournaments(p, 3, 4, undefined, undefined, 1, page1.cursor);
  assert.equal(page2.tournaments.length, 1);
  assert.notEqual(page2.tournaments[0].id, page1.tournaments[0].id);

  const badLimit = await httpError(c.listTournaments(p, undefined, undefined, undefined, undefined, 1000));
  assert.equal(badLimit.status, 400);
});

test("tournaments: join, write, list records, around owner, attempts, delete", async () => {
  const [p, q, r] = await players(3);
  const mustJoin = await httpError(c.writeTournamentRecord(p, "e2e_cup", { score: "10" }));
  assert.equal(mustJoin.status, 400);
  assert.equal(mustJoin.body.message, "Must join tournament before attempting to write value.");

  for (const s of [p, q, r]) assert.equal(await c.joinTournament(s, "e2e_cup"), true);
  assert.equal(await c.joinTournament(p, "e2e_cup"), true); // joining twice is no error

  const rec = await c.writeTournamentRecord(p, "e2e_cup",
    { score: "300", subscore: "2", metadata: { run: 1 } });
  assert.equal(rec.leaderboard_id, "e2e_cup");
  assert.equal(rec.owner_id, p.user_id);
  assert.equal(rec.username, p.username);
  assert.deepEqual([rec.score, rec.subscore, rec.num_score, rec.max_num_score, rec.rank],
    [300, 2, 1, 3, 1]);
  assert.deepEqual(rec.metadata, { run: 1 });
  assert.equal(rec.expiry_time, undefined); // no reset schedule, no end time: never expires
  await c.writeTournamentRecord(q, "e2e_cup", { score: "200" });
  await c.writeTournamentRecord(r, "e2e_cup", { score: "100" });

  // Three writes each, the fourth refused.
  await c.writeTournamentRecord(p, "e2e_cup", { score: "310" });
  const third = await c.writeTournamentRecord(p, "e2e_cup", { score: "5" });
  assert.deepEqual([third.score, third.num_score], [310, 3]);
  const fourth = await httpError(c.writeTournamentRecord(p, "e2e_cup", { score: "999" }));
  assert.equal(fourth.status, 400);
  assert.equal(fourth.body.message, "Reached allowed max number of score attempts.");

  const list = await c.listTournamentRecords(p, "e2e_cup", undefined, 2);
  assert.deepEqual(scores(list.records), [[p.user_id, 310, 1], [q.user_id, 200, 2]]);
  assert.ok(list.next_cursor);
  const rest = await c.listTournamentRecords(p, "e2e_cup", undefined, 2, list.next_cursor);
  assert.deepEqual(scores(rest.records), [[r.user_id, 100, 3]]);
  assert.ok(rest.prev_cursor);
  const owners = await c.listTournamentRecords(p, "e2e_cup", [r.user_id], 1);
  assert.deepEqual(scores(owners.owner_records), [[r.user_id, 100, 3]]);

  const around = await c.listTournamentRecordsAroundOwner(p, "e2e_cup", q.user_id, 3);
  assert.deepEqual(scores(around.records),
    [[p.user_id, 310, 1], [q.user_id, 200, 2], [r.user_id, 100, 3]]);

  const size = (await c.listTournaments(p, 3, 4)).tournaments.find((t) => t.id === "e2e_cup").size;
  assert.equal(size, 3);

  await c.deleteTournamentRecord(r, "e2e_cup");
  const afterDelete = await c.listTournamentRecords(p, "e2e_cup", undefined, 10);
  assert.deepEqual(afterDelete.records.map((x) => x.owner_id), [p.user_id, q.user_id]);

  // The POST form of the write (apiClient.writeTournamentRecord2) answers the same way.
  const viaPost = await c.apiClient.writeTournamentRecord2(q.token, "e2e_cup", { score: "250" });
  assert.equal(viaPost.score, "250"); // the raw API record: int64 as a string

  // Authoritative and not-yet-started tournaments.
  const auth = await httpError(c.writeTournamentRecord(p, "e2e_cup_auth", { score: "1" }));
  assert.equal(auth.status, 403);
  assert.equal(auth.body.message, "Tournament only allows authoritative score submissions.");
  const authDelete = await httpError(c.deleteTournamentRecord(p, "e2e_cup_auth"));
  assert.equal(authDelete.status, 403);
  assert.equal(authDelete.body.message, "Tournament only allows authoritative score deletions.");
  const early = await httpError(c.writeTournamentRecord(p, "e2e_later", { score: "1" }));
  assert.equal(early.status, 400);
  assert.equal(early.body.message, "Tournament is not active and cannot accept new scores.");
  // Joining ahead of the start is allowed (Nakama refuses joins only after the active end).
  assert.equal(await c.joinTournament(p, "e2e_later"), true);
  const unknown = await httpError(c.joinTournament(p, "no_such_cup"));
  assert.equal(unknown.status, 404);
});

test("getAccount: the wallet after an RPC that calls nk.wallet_update", async () => {
  const p = await player(c);
  assert.deepEqual(JSON.parse((await c.getAccount(p)).wallet), {});
  const res = await c.rpc(p, "grant_coins", { coins: 50 });
  assert.deepEqual(res.payload, { updated: { coins: 50 }, previous: {} });
  await c.rpc(p, "grant_coins", { coins: 25 });
  const account = await c.getAccount(p);
  // The client leaves the wallet as the JSON string the server sent.
  assert.equal(typeof account.wallet, "string");
  assert.deepEqual(JSON.parse(account.wallet), { coins: 75 });
  const overdraw = await httpError(c.rpc(p, "grant_coins", { coins: -100 }));
  assert.equal(overdraw.status, 400);
  assert.deepEqual(JSON.parse((await c.getAccount(p)).wallet), { coins: 75 });
});
