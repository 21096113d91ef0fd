import { test } from "node:test";
import assert from "node:assert/strict";
import { client, uniq, httpError } from "./harness.mjs";

async function player(c) {
  return c.authenticateDevice(uniq("device"));
}

test("write, read, list and delete my own objects", async () => {
  const c = client();
  const s = await player(c);
  const acks = await c.writeStorageObjects(s, [
    { collection: "saves", key: "slot1", value: { level: 3, hp: 42 } },
    { collection: "saves", key: "slot2", value: { items: ["sword"] }, permission_read: 2, permission_write: 1 },
  ]);
  assert.equal(acks.acks.length, 2);
  assert.equal(acks.acks[0].key, "slot1");
  assert.match(acks.acks[0].version, /^[0-9a-f]{32}$/);
  assert.equal(acks.acks[0].user_id, s.user_id);

  const read = await c.readStorageObjects(s, { object_ids: [
    { collection: "saves", key: "slot1", user_id: s.user_id },
    { collection: "saves", key: "missing", user_id: s.user_id },
  ] });
  assert.equal(read.objects.length, 1);
  assert.deepEqual(read.objects[0].value, { level: 3, hp: 42 });
  assert.equal(read.objects[0].permission_read, 1);
  assert.equal(read.objects[0].permission_write, 1);
  assert.equal(read.objects[0].version, acks.acks[0].version);

  const page1 = await c.listStorageObjects(s, "saves", s.user_id, 1);
  assert.equal(page1.objects.length, 1);
  assert.ok(page1.cursor);
  const page2 = await c.listStorageObjects(s, "saves", s.user_id, 1, page1.cursor);
  assert.equal(page2.objects.length, 1);
  assert.notEqual(page2.objects[0].key, page1.objects[0].key);
  assert.equal(page2.cursor, undefined);

  assert.equal(await c.deleteStorageObjects(s, { object_ids: [{ collection: "saves", key: "slot1" }] }), true);
  const after = await c.readStorageObjects(s, { object_ids: [{ collection: "saves", key: "slot1", user_id: s.user_id }] });
  assert.deepEqual(after.objects, []);
});

test("optimistic concurrency with versions", async () => {
  const c = client();
  const s = await player(c);
  const first = await c.writeStorageObjects(s, [{ collection: "inv", key: "bag", value: { gold: 1 }, version: "*" }]);
  const again = await httpError(c.writeStorageObjects(s, [{ collection: "inv", key: "bag", value: { gold: 2 }, version: "*" }]));
  assert.equal(again.status, 400);
  assert.deepEqual(again.body, { code: 3, message: "Storage write rejected - version check failed." });
  const v1 = first.acks[0].version;
  const second = await c.writeStorageObjects(s, [{ collection: "inv", key: "bag", value: { gold: 5 }, version: v1 }]);
  const stale = await httpError(c.writeStorageObjects(s, [{ collection: "inv", key: "bag", value: { gold: 9 }, version: v1 }]));
  assert.equal(stale.status, 400);
  const read = await c.readStorageObjects(s, { object_ids: [{ collection: "inv", key: "bag", user_id: s.user_id }] });
  assert.deepEqual(read.objects[0].value, { gold: 5 });
  assert.equal(read.objects[0].version, second.acks[0].version);
  const badDelete = await httpError(c.deleteStorageObjects(s, { object_ids: [{ collection: "inv", key: "bag", version: v1 }] }));
  assert.equal(badDelete.status, 400);
  await c.deleteStorageObjects(s, { object_ids: [{ collection: "inv", key: "bag", version: second.acks[0].version }] });
});

test("permissions between two players", async () => {
  const c = client();
  const alice = await player(c);
  const bob = await player(c);
  await c.writeStorageObjects(alice, [
    { collection: "profile", key: "public", value: { bio: "hi" }, permission_read: 2 },
    { collection: "profile", key: "private", value: { secret: true }, permission_read: 1 },
    { collection: "profile", key: "hidden", value: { x: 1 }, permission_read: 0, permission_write: 0 },
  ]);
  const seen = await c.readStorageObjects(bob, { object_ids: ["public", "private", "hidden"].map(
    (key) => ({ collection: "profile", key, user_id: alice.user_id })) });
  assert.deepEqual(seen.objects.map((o) => o.key), ["public"]);
  const own = await c.readStorageObjects(alice, { object_ids: ["public", "private", "hidden"].map(
    (key) => ({ collection: "profile", key, user_id: alice.user_id })) });
  assert.deepEqual(own.objects.map((o) => o.key).sort(), ["private", "public"]);
  const listed = await c.listStorageObjects(bob, "profile", alice.user_id, 10);
  assert.deepEqual(listed.objects.map((o) => o.key), ["public"]);
  const locked = await httpError(c.writeStorageObjects(alice, [{ collection: "profile", key: "hidden", value: { x: 2 } }]));
  assert.equal(locked.status, 400);
  assert.deepEqual(locked.body, { code: 3, message: "Storage write rejected - permission denied." });
  // Bob's write with the same collection and key lands in Bob's own object, not Alice's.
  await c.writeStorageObjects(bob, [{ collection: "profile", key: "public", value: { bio: "bob" }, permission_read: 2 }]);
  const aliceStill = await c.readStorageObjects(bob, { object_ids: [{ collection: "profile", key: "public", user_id: alice.user_id }] });
  assert.deepEqual(aliceStill.objects[0].value, { bio: "hi" });
});

test("bad values are refused", async () => {
  const c = client();
  const s = await player(c);
  const res = await httpError(c.writeStorageObjects(s, [{ collection: "x", key: "y", value: [1, 2] }]));
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 3, message: "Value must be a JSON object." });
  const perm = await httpError(c.writeStorageObjects(s, [{ collection: "x", key: "y", value: {}, permission_read: 5 }]));
  assert.deepEqual(perm.body, { code: 3, message: "Invalid Read permission supplied. It must be either 0, 1 or 2." });
});
