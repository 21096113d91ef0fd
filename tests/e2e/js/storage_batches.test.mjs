// Storage promises of the README through the official nakama-js client: listing a collection with
// no user id lists the public objects of every owner, and write and delete batches are atomic.
import { test } from "node:test";
import assert from "node:assert/strict";
import { client, httpError, player, uniq } from "./harness.mjs";

const VERSION_FAILED = { code: 3, message: "Storage write rejected - version check failed." };

test("listStorageObjects with no user id lists the public objects of every owner", async () => {
  const c = client();
  const [alice, bob, carol] = [await player(c), await player(c), await player(c)];
  const board = uniq("levels");
  await c.writeStorageObjects(alice, [
    { collection: board, key: "alice-level", value: { name: "Lava" }, permission_read: 2 },
    { collection: board, key: "alice-draft", value: { name: "WIP" }, permission_read: 1 },
  ]);
  await c.writeStorageObjects(bob, [
    { collection: board, key: "bob-level", value: { name: "Ice" }, permission_read: 2 },
    { collection: board, key: "bob-secret", value: { name: "Hidden" }, permission_read: 0 },
  ]);
  await c.writeStorageObjects(carol, [{ collection: uniq("elsewhere"), key: "x", value: {}, permission_read: 2 }]);

  const shared = (list) => list.objects.map((o) => `${o.user_id}/${o.key}`).sort();
  const expected = [`${alice.user_id}/alice-level`, `${bob.user_id}/bob-level`].sort();

  // Anyone (here a third player) sees the public objects of both owners, nothing else.
  const all = await c.listStorageObjects(carol, board, undefined, 10);
  assert.deepEqual(shared(all), expected);
  assert.equal(all.cursor, undefined);
  const lava = all.objects.find((o) => o.key === "alice-level");
  assert.deepEqual(lava.value, { name: "Lava" });
  assert.equal(lava.collection, board);
  assert.equal(lava.permission_read, 2);
  assert.equal(lava.permission_write, 1);
  assert.match(lava.version, /^[0-9a-f]{32}$/);
  // An owner's private objects are not in the public listing, even for that owner.
  assert.deepEqual(shared(await c.listStorageObjects(alice, board, undefined, 10)), expected);
  // Listing one owner is unchanged: Alice sees her objects a client may read (not "no read").
  const alices = await c.listStorageObjects(alice, board, alice.user_id, 10);
  assert.deepEqual(alices.objects.map((o) => o.key).sort(), ["alice-draft", "alice-level"]);
  const bobs = await c.listStorageObjects(bob, board, bob.user_id, 10);
  assert.deepEqual(bobs.objects.map((o) => o.key), ["bob-level"]);

  // Pages of one, across owners, with the cursor.
  const p1 = await c.listStorageObjects(carol, board, undefined, 1);
  assert.equal(p1.objects.length, 1);
  assert.ok(p1.cursor);
  const p2 = await c.listStorageObjects(carol, board, undefined, 1, p1.cursor);
  assert.equal(p2.objects.length, 1);
  assert.equal(p2.cursor, undefined);
  assert.deepEqual(shared({ objects: [...p1.objects, ...p2.objects] }), expected);

  // A collection nobody made public lists nothing.
  const empty = await c.listStorageObjects(carol, uniq("nothing"), undefined, 10);
  assert.deepEqual(empty.objects, []);
});

async function values(c, s, collection, keys) {
  const read = await c.readStorageObjects(s, { object_ids: keys.map((key) => ({ collection, key, user_id: s.user_id })) });
  return Object.fromEntries(read.objects.map((o) => [o.key, o.value]));
}

test("a write batch with one bad version writes nothing", async () => {
  const c = client();
  const s = await player(c);
  const inv = uniq("inventory");
  const first = await c.writeStorageObjects(s, [
    { collection: inv, key: "gold", value: { amount: 10 } },
    { collection: inv, key: "gems", value: { amount: 1 } },
  ]);
  const [goldV, gemsV] = first.acks.map((a) => a.version);
  const stale = await c.writeStorageObjects(s, [{ collection: inv, key: "gems", value: { amount: 2 }, version: gemsV }]);
  const gemsV2 = stale.acks[0].version;

  // A trade: spend gold, add gems, unlock a sword. The gems version is stale: nothing happens.
  const trade = (gemsVersion) => [
    { collection: inv, key: "gold", value: { amount: 4 }, version: goldV },
    { collection: inv, key: "sword", value: { owned: true }, version: "*" },
    { collection: inv, key: "gems", value: { amount: 7 }, version: gemsVersion },
  ];
  const refused = await httpError(c.writeStorageObjects(s, trade(gemsV)));
  assert.equal(refused.status, 400);
  assert.deepEqual(refused.body, VERSION_FAILED);
  assert.deepEqual(await values(c, s, inv, ["gold", "gems", "sword"]),
    { gold: { amount: 10 }, gems: { amount: 2 } });

  // The bad object first, or "*" (must not exist) on an existing object: still nothing written.
  const first2 = await httpError(c.writeStorageObjects(s, [trade(gemsV)[2], ...trade(gemsV).slice(0, 2)]));
  assert.deepEqual(first2.body, VERSION_FAILED);
  const exists = await httpError(c.writeStorageObjects(s, [
    { collection: inv, key: "sword", value: { owned: true } },
    { collection: inv, key: "gold", value: { amount: 0 }, version: "*" },
  ]));
  assert.deepEqual(exists.body, VERSION_FAILED);
  assert.deepEqual(await values(c, s, inv, ["gold", "gems", "sword"]),
    { gold: { amount: 10 }, gems: { amount: 2 } });

  // With the current versions the whole trade lands, acks in the batch's order.
  const done = await c.writeStorageObjects(s, trade(gemsV2));
  assert.deepEqual(done.acks.map((a) => a.key), ["gold", "sword", "gems"]);
  assert.deepEqual(await values(c, s, inv, ["gold", "gems", "sword"]),
    { gold: { amount: 4 }, gems: { amount: 7 }, sword: { owned: true } });
});

test("a delete batch with one bad version deletes nothing", async () => {
  const c = client();
  const s = await player(c);
  const col = uniq("mail");
  const acks = await c.writeStorageObjects(s, [
    { collection: col, key: "a", value: { n: 1 } },
    { collection: col, key: "b", value: { n: 2 } },
  ]);
  const [va, vb] = acks.acks.map((a) => a.version);
  const bad = await httpError(c.deleteStorageObjects(s, { object_ids: [
    { collection: col, key: "a", version: va },
    { collection: col, key: "b", version: va }, // b's version is not a's
  ] }));
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 3);
  assert.deepEqual(await values(c, s, col, ["a", "b"]), { a: { n: 1 }, b: { n: 2 } });
  assert.equal(await c.deleteStorageObjects(s, { object_ids: [
    { collection: col, key: "a", version: va },
    { collection: col, key: "b", version: vb },
  ] }), true);
  assert.deepEqual(await values(c, s, col, ["a", "b"]), {});
});
