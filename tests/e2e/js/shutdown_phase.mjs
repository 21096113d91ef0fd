// Used by tests/e2e/test_shutdown_js.py, in two runs around a server restart:
//   before: a player signs in and asks (RPC) to be told when the server restarts;
//   after:  the same player signs in to the next server and finds the notification the first
//           server's shutdown function left.
import assert from "node:assert/strict";
import { client } from "./harness.mjs";

const [phase, deviceId] = process.argv.slice(2);
const c = client();
const session = await c.authenticateDevice(deviceId, true);
if (phase === "before") {
  const reply = await c.rpc(session, "notify_on_restart", {});
  assert.deepEqual(reply.payload, { waiting: 1 });
} else {
  const list = await c.listNotifications(session, 10);
  const told = (list.notifications || []).filter((n) => n.subject === "server restarting");
  assert.equal(told.length, 1, JSON.stringify(list));
  assert.equal(told[0].code, 100);
  assert.deepEqual(told[0].content, { back_in_sec: 30 });
  assert.equal(told[0].persistent, true);
}
process.exit(0);
