import { test } from "node:test";
import assert from "node:assert/strict";
import { Session } from "@heroiclabs/nakama-js";
import { client, uniq, httpError } from "./harness.mjs";

test("device authentication creates an account, then logs into it", async () => {
  const c = client();
  const id = uniq("device");
  const username = uniq("u").slice(0, 20);
  const s1 = await c.authenticateDevice(id, true, username, { platform: "node" });
  assert.equal(s1.created, true);
  assert.equal(s1.username, username);
  assert.match(s1.user_id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(s1.vars, { platform: "node" });
  assert.ok(s1.expires_at > Date.now() / 1000);
  const s2 = await c.authenticateDevice(id);
  assert.equal(s2.created, false);
  assert.equal(s2.user_id, s1.user_id);
  assert.notEqual(s2.token, s1.token);
});

test("email and custom authentication", async () => {
  const c = client();
  const email = `${uniq("e")}@example.com`;
  const s = await c.authenticateEmail(email, "correct-horse", true);
  assert.equal(s.created, true);
  const again = await c.authenticateEmail(email.toUpperCase(), "correct-horse", false);
  assert.equal(again.user_id, s.user_id);
  const wrong = await httpError(c.authenticateEmail(email, "wrong-password", false));
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.body, { code: 16, message: "Invalid credentials." });
  const custom = await c.authenticateCustom(uniq("custom"), true);
  assert.equal(custom.created, true);
  const missing = await httpError(c.authenticateCustom(uniq("custom"), false));
  assert.equal(missing.status, 404);
});

test("bad input and a wrong server key are refused", async () => {
  const short = await httpError(client().authenticateDevice("short"));
  assert.equal(short.status, 400);
  assert.deepEqual(short.body, { code: 3, message: "Device ID invalid, must be 10-128 bytes." });
  const badKey = await httpError(client("not-the-key").authenticateDevice(uniq("device")));
  assert.equal(badKey.status, 401);
  assert.deepEqual(badKey.body, { code: 16, message: "Server key invalid" });
  const c = client();
  const name = uniq("taken").slice(0, 30);
  await c.authenticateDevice(uniq("device"), true, name);
  const taken = await httpError(c.authenticateDevice(uniq("device"), true, name));
  assert.equal(taken.status, 409);
});

test("account get and update", async () => {
  const c = client();
  const id = uniq("device");
  const s = await c.authenticateDevice(id);
  let account = await c.getAccount(s);
  assert.equal(account.user.id, s.user_id);
  assert.equal(account.user.lang_tag, "en");
  assert.equal(account.wallet, "{}");
  assert.deepEqual(account.devices, [{ id }]);
  const newName = uniq("name").slice(0, 25);
  await c.updateAccount(s, { username: newName, display_name: "Ada", lang_tag: "fr", timezone: "Europe/Paris" });
  account = await c.getAccount(s);
  assert.equal(account.user.username, newName);
  assert.equal(account.user.display_name, "Ada");
  assert.equal(account.user.lang_tag, "fr");
  assert.equal(account.user.timezone, "Europe/Paris");
});

test("refresh keeps the session and its vars; logout invalidates it", async () => {
  const c = client();
  const s = await c.authenticateDevice(uniq("device"), true, undefined, { level: "7" });
  const refreshed = await c.sessionRefresh(s);
  assert.equal(refreshed.user_id, s.user_id);
  assert.deepEqual(refreshed.vars, { level: "7" });
  const withVars = await c.sessionRefresh(s, { level: "8" });
  assert.deepEqual(withVars.vars, { level: "8" });
  await c.getAccount(withVars);
  await c.sessionLogout(withVars, withVars.token, withVars.refresh_token);
  const after = await httpError(c.getAccount(withVars));
  assert.equal(after.status, 401);
  const refreshAfter = await httpError(c.sessionRefresh(withVars));
  assert.equal(refreshAfter.status, 401);
});

test("a refresh token is not a session token", async () => {
  const c = client();
  const s = await c.authenticateDevice(uniq("device"));
  const fake = Session.restore(s.refresh_token, s.refresh_token);
  const res = await httpError(c.getAccount(fake));
  assert.equal(res.status, 401);
});

test("link and unlink", async () => {
  const c = client();
  const device = uniq("device");
  const s = await c.authenticateDevice(device);
  const custom = uniq("custom");
  await c.linkCustom(s, { id: custom });
  const viaCustom = await c.authenticateCustom(custom, false);
  assert.equal(viaCustom.user_id, s.user_id);
  const email = `${uniq("link")}@example.com`;
  await c.linkEmail(s, { email, password: "password123" });
  const viaEmail = await c.authenticateEmail(email, "password123", false);
  assert.equal(viaEmail.user_id, s.user_id);
  const device2 = uniq("device");
  await c.linkDevice(s, { id: device2 });
  const other = await c.authenticateDevice(uniq("device"));
  const conflict = await httpError(c.linkCustom(other, { id: custom }));
  assert.equal(conflict.status, 409);
  await c.unlinkDevice(s, { id: device });
  await c.unlinkDevice(s, { id: device2 });
  await c.unlinkCustom(s, { id: custom });
  const last = await httpError(c.unlinkEmail(s, { email, password: "password123" }));
  assert.equal(last.status, 403);
  const account = await c.getAccount(s);
  assert.equal(account.email, email);
  assert.equal(account.devices, undefined);
});

test("users by id and username", async () => {
  const c = client();
  const a = await c.authenticateDevice(uniq("device"), true, uniq("ua").slice(0, 20));
  const b = await c.authenticateDevice(uniq("device"), true, uniq("ub").slice(0, 20));
  const res = await c.getUsers(a, [a.user_id], [b.username]);
  const names = res.users.map((u) => u.username).sort();
  assert.deepEqual(names, [a.username, b.username].sort());
  for (const u of res.users) {
    assert.ok(u.create_time.endsWith("Z"));
    assert.deepEqual(u.metadata, {}); // nakama-js parses the metadata string
  }
});

test("deleting the account invalidates its tokens", async () => {
  const c = client();
  const s = await c.authenticateDevice(uniq("device"));
  assert.equal(await c.deleteAccount(s), true);
  const res = await httpError(c.getAccount(s));
  assert.equal(res.status, 401);
});
