// The matchmaker through the official nakama-js client: two players queue for tic-tac-toe, are
// paired, and play the authoritative match the server's matched function started for them
// (docs/examples/modules/matchmaking.py with tictactoe.py, the examples of docs/runtime.md); two
// others queue for anything else and meet in a relayed match by token; and a withdrawn ticket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { client, connect, nativeSetTimeout, player } from "./harness.mjs";

const decoder = new TextDecoder();
const OP = { START: 1, MOVE: 2, UPDATE: 3, DONE: 4 };
const body = (data) => JSON.parse(decoder.decode(data.data));
const withOp = (op, where = () => true) => (d) => d.op_code === op && where(body(d));

// A connected socket that keeps its matchmaker_matched pushes: `await s.matched()` takes the
// next one (or fails after a timeout).
async function queuer(c, session) {
  const socket = await connect(c, session);
  const got = [];
  let wake = () => {};
  socket.onmatchmakermatched = (m) => { got.push(m); wake(); };
  socket.matched = async (timeoutMs = 10000) => {
    const deadline = Date.now() + timeoutMs;
    while (!got.length) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no matchmaker_matched push");
      await new Promise((resolve) => { wake = resolve; nativeSetTimeout(resolve, Math.min(left, 50)); });
    }
    return got.shift();
  };
  socket.unmatched = async (waitMs = 500) => {
    await new Promise((resolve) => nativeSetTimeout(resolve, waitMs));
    assert.deepEqual(got, []);
  };
  return socket;
}

test("two players matched for tic-tac-toe play the match the server started", async () => {
  const c = client();
  const [xs, os] = [await player(c), await player(c)];
  const x = await queuer(c, xs);
  const o = await queuer(c, os);
  const query = "+properties.game:tictactoe";
  const tx = await x.addMatchmaker(query, 2, 2, { game: "tictactoe" }, { skill: 12 });
  assert.match(tx.ticket, /^[0-9a-f-]{36}$/);
  const started = Date.now();
  const to = await o.addMatchmaker(query, 2, 2, { game: "tictactoe" }, { skill: 15.5 });
  const [mx, mo] = [await x.matched(), await o.matched()];
  assert.ok(Date.now() - started < 3000, `matched after ${Date.now() - started} ms`);

  // Both get the match id the matched function returned, their own ticket, and the pair.
  assert.match(mx.match_id, /^[0-9a-f-]{36}\.(kizuna(-\d+)?|node\d+)$/);
  assert.equal(mx.token, undefined);
  assert.equal(mo.match_id, mx.match_id);
  assert.equal(mx.ticket, tx.ticket);
  assert.equal(mo.ticket, to.ticket);
  assert.deepEqual(mx.users.map((u) => u.presence.user_id), [xs.user_id, os.user_id]);
  assert.deepEqual(mx.users.map((u) => u.numeric_properties), [{ skill: 12 }, { skill: 15.5 }]);
  assert.deepEqual(mx.users[1].string_properties, { game: "tictactoe" });
  assert.deepEqual(mx.self, mx.users[0]);
  assert.deepEqual(mo.self, mo.users[1]);

  // They join it and play: X takes the middle column.
  const matchId = mx.match_id;
  const joined = await x.joinMatch(matchId);
  assert.equal(joined.authoritative, true);
  await o.joinMatch(matchId);
  const start = body(await x.next("match_data", withOp(OP.START)));
  await o.next("match_data", withOp(OP.START));
  const [first, second] = start.turn === xs.user_id ? [x, o] : [o, x];
  for (const [sock, cell] of [[first, 1], [second, 0], [first, 4], [second, 2], [first, 7]]) {
    await sock.sendMatchState(matchId, OP.MOVE, JSON.stringify({ cell }));
    await x.next("match_data", withOp(OP.UPDATE, (v) => v.board[cell] !== ""));
  }
  const done = body(await o.next("match_data", withOp(OP.DONE)));
  assert.equal(done.winner, start.turn);
});

test("players of another game meet in a relayed match by token", async () => {
  const c = client();
  const [as, bs] = [await player(c), await player(c)];
  const a = await queuer(c, as);
  const b = await queuer(c, bs);
  const pool = randomUUID();
  const query = `+properties.pool:${pool}`;
  await a.addMatchmaker(query, 2, 2, { pool });
  await b.addMatchmaker(query, 2, 2, { pool });
  const [ma, mb] = [await a.matched(), await b.matched()];
  assert.equal(ma.match_id, undefined);
  assert.equal(typeof ma.token, "string");
  assert.equal(mb.token, ma.token);

  const ja = await a.joinMatch(undefined, ma.token);
  assert.match(ja.match_id, /^[0-9a-f-]{36}\.$/);
  assert.ok(!ja.authoritative); // false: omitted, as protojson does
  const jb = await b.joinMatch(undefined, mb.token);
  assert.equal(jb.match_id, ja.match_id);
  assert.deepEqual(jb.presences.map((p) => p.user_id), [as.user_id]);
  await a.next("match_presence", (e) => (e.joins || []).some((p) => p.user_id === bs.user_id));
  await b.sendMatchState(ja.match_id, 7, "hello");
  const data = await a.next("match_data", (d) => d.op_code === 7);
  assert.equal(decoder.decode(data.data), "hello");

  // A token that is not the server's is refused.
  await assert.rejects(a.joinMatch(undefined, ma.token.slice(0, -2) + "xx"),
    { code: 3, message: "Invalid match token" });
});

test("a withdrawn ticket is not matched, and the ticket rules are Nakama's", async () => {
  const c = client();
  const [as, bs] = [await player(c), await player(c)];
  const a = await queuer(c, as);
  const b = await queuer(c, bs);
  const pool = randomUUID();
  const query = `+properties.pool:${pool}`;
  const { ticket } = await a.addMatchmaker(query, 2, 2, { pool });
  await a.removeMatchmaker(ticket);
  await assert.rejects(a.removeMatchmaker(ticket),
    { code: 3, message: "Matchmaker ticket not found" });
  await b.addMatchmaker(query, 2, 2, { pool });
  await b.unmatched(800);
  await a.unmatched(0);
  await assert.rejects(a.addMatchmaker(query, 1, 2, { pool }),
    { code: 3, message: "Invalid minimum count, must be >= 2" });
});
