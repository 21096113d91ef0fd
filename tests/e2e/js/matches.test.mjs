// Authoritative matches through the official nakama-js client: a tic-tac-toe game created by an
// RPC (docs/examples/modules/tictactoe.py, the worked example of docs/runtime.md), found with
// listMatches and a label query, joined by two players who play it through the server's loop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { client, connect, player } from "./harness.mjs";

const decoder = new TextDecoder();
const OP = { START: 1, MOVE: 2, UPDATE: 3, DONE: 4, REJECTED: 5 };
const body = (data) => JSON.parse(decoder.decode(data.data));
const withOp = (op, where = () => true) => (d) => d.op_code === op && where(body(d));

async function listed(c, session, query) {
  const list = await c.listMatches(session, 100, true, undefined, undefined, undefined, query);
  return (list.matches || []).map((m) => m.match_id);
}

test("two players play tic-tac-toe through the server's match loop", async () => {
  const c = client();
  const [xs, os, late] = [await player(c), await player(c), await player(c)];
  const { payload } = await c.rpc(xs, "tictactoe_create", {});
  const matchId = payload.match_id;
  // Run by the node the RPC reached: "kizuna", or node1 in the cluster runs (tests/cluster).
  assert.match(matchId, /^[0-9a-f-]{36}\.(kizuna(-\d+)?|node\d+)$/);

  // Listed, with its label, and found by a query on it while it has a free seat.
  const open = "+label.game:tictactoe +label.seats:>=1";
  const list = await c.listMatches(xs, 100, true, undefined, undefined, undefined, open);
  const found = list.matches.find((m) => m.match_id === matchId);
  assert.deepEqual({ ...found, label: JSON.parse(found.label) }, {
    match_id: matchId, authoritative: true, label: { game: "tictactoe", seats: 2 },
    tick_rate: 5, handler_name: "tictactoe",
  });

  const x = await connect(c, xs);
  const o = await connect(c, os);
  const joined = await x.joinMatch(matchId);
  assert.equal(joined.match_id, matchId);
  assert.equal(joined.authoritative, true);
  assert.equal(joined.size, 1);
  assert.equal(joined.self.user_id, xs.user_id);
  const second = await o.joinMatch(matchId, undefined, { skill: "9" });
  assert.deepEqual(second.presences.map((p) => p.user_id), [xs.user_id]);
  assert.deepEqual(JSON.parse(second.label), { game: "tictactoe", seats: 0 });
  await x.next("match_presence", (e) => (e.joins || []).some((p) => p.user_id === os.user_id));

  // Both in: the server starts the game, X (the first in) to play.
  const start = body(await x.next("match_data", withOp(OP.START)));
  assert.deepEqual(body(await o.next("match_data", withOp(OP.START))), start);
  assert.deepEqual(start.marks, { [xs.user_id]: "X", [os.user_id]: "O" });
  assert.equal(start.turn, xs.user_id);
  assert.ok(!(await listed(c, xs, open)).includes(matchId));
  const l = await connect(c, late);
  await assert.rejects(l.joinMatch(matchId), { code: 5, message: "This game is full." });

  // A move out of turn is refused to its sender alone.
  await o.sendMatchState(matchId, OP.MOVE, JSON.stringify({ cell: 0 }));
  assert.deepEqual(body(await o.next("match_data", withOp(OP.REJECTED))),
    { error: "It is not your turn." });
  await x.none("match_data", 200);

  // X takes the diagonal 2-4-6.
  for (const [sock, cell] of [[x, 4], [o, 0], [x, 2], [o, 8], [x, 6]]) {
    await sock.sendMatchState(matchId, OP.MOVE, JSON.stringify({ cell }));
    for (const s of [x, o]) {
      const update = await s.next("match_data", withOp(OP.UPDATE, (v) => v.board[cell] !== ""));
      assert.equal(update.presence.user_id, sock === x ? xs.user_id : os.user_id);
    }
  }
  for (const s of [x, o]) {
    const done = body(await s.next("match_data", withOp(OP.DONE)));
    assert.equal(done.winner, xs.user_id);
    assert.deepEqual(done.board, ["O", "", "X", "", "X", "", "X", "", "O"]);
    const end = await s.next("match_presence", (e) => e.leaves);
    assert.equal(end.match_id, matchId);
  }

  // The match is over: gone from listings, and joining it is "Match not found".
  assert.ok(!(await listed(c, xs, "+label.game:tictactoe")).includes(matchId));
  await assert.rejects(x.joinMatch(matchId), { code: 4, message: "Match not found" });
});
