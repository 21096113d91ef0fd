// Groups and group chat through the official nakama-js client: create, list/search, join (open
// and closed), add, promote, demote, kick, ban, leave, the member listings, and group channels
// (socket.joinChat(groupId, 3, ...)) with their membership messages and history.
import { test } from "node:test";
import assert from "node:assert/strict";
import { client, connect, httpError, player, uniq } from "./harness.mjs";

test("groups: create, search, join, roles, listings", async () => {
  const c = client();
  const [owner, alice, bob] = [await player(c), await player(c), await player(c)];
  const tag = uniq("guild").slice(0, 20);
  const g = await c.createGroup(owner, { name: `${tag}-open`, description: "d", lang_tag: "fr",
                                         open: true, max_count: 10 });
  assert.equal(g.name, `${tag}-open`);
  assert.equal(g.open, true);
  assert.equal(g.edge_count, 1);
  assert.equal(g.max_count, 10);
  assert.equal(g.creator_id, owner.user_id);
  assert.deepEqual(g.metadata, {});
  const closed = await c.createGroup(owner, { name: `${tag}-closed`, open: false });
  assert.equal(closed.open, false);

  // Search by name prefix, one page at a time.
  const first = await c.listGroups(owner, `${tag}%`, undefined, 1);
  assert.equal(first.groups.length, 1);
  assert.ok(first.cursor);
  const second = await c.listGroups(owner, `${tag}%`, first.cursor, 1);
  assert.deepEqual([first.groups[0].name, second.groups[0].name].sort(),
                   [`${tag}-closed`, `${tag}-open`]);

  // Open: joined at once. Closed: a join request, and the owner is notified (-5).
  const ownerSocket = await connect(c, owner);
  assert.equal(await c.joinGroup(alice, g.id), true);
  assert.equal(await c.joinGroup(bob, closed.id), true);
  const note = await ownerSocket.next("notification", (n) => n.code === -5);
  assert.deepEqual(note.content, { group_id: closed.id, username: bob.username });
  let users = await c.listGroupUsers(owner, closed.id);
  assert.deepEqual(users.group_users.map((u) => [u.user.id, u.state]),
                   [[owner.user_id, 0], [bob.user_id, 3]]);

  // Accept the request with add; promote, demote.
  assert.equal(await c.addGroupUsers(owner, closed.id, [bob.user_id]), true);
  // (nakama-js hands back promote's raw response: the empty object.)
  assert.deepEqual(await c.promoteGroupUsers(owner, closed.id, [bob.user_id]), {});
  users = await c.listGroupUsers(owner, closed.id, 1);
  assert.deepEqual(users.group_users.map((u) => u.user.id), [bob.user_id]);
  assert.equal(await c.demoteGroupUsers(owner, closed.id, [bob.user_id]), true);
  users = await c.listGroupUsers(owner, closed.id, 2);
  assert.deepEqual(users.group_users.map((u) => u.user.id), [bob.user_id]);

  // A member cannot kick; the owner can; a ban keeps one out.
  const denied = await httpError(c.kickGroupUsers(bob, closed.id, [owner.user_id]));
  assert.deepEqual(denied, { status: 404, body: { code: 5, message: "Group not found or permission denied." } });
  assert.equal(await c.banGroupUsers(owner, g.id, [alice.user_id]), true);
  users = await c.listGroupUsers(owner, g.id, 4);
  assert.deepEqual(users.group_users.map((u) => [u.user.id, u.state]), [[alice.user_id, 4]]);

  const mine = await c.listUserGroups(bob, bob.user_id);
  assert.deepEqual(mine.user_groups.map((ug) => [ug.group.id, ug.state]), [[closed.id, 2]]);
  assert.equal(await c.leaveGroup(bob, closed.id), true);
  assert.deepEqual((await c.listUserGroups(bob, bob.user_id)).user_groups, []);

  const last = await httpError(c.leaveGroup(owner, g.id));
  assert.deepEqual(last, { status: 400, body: { code: 3, message: "Cannot leave group when you are the last superadmin." } });
  assert.equal(await c.updateGroup(owner, g.id, { name: `${tag}-renamed` }), true);
  assert.equal((await c.listGroups(owner, `${tag}-renamed`)).groups[0].id, g.id);
  assert.equal(await c.deleteGroup(owner, g.id), true);
  assert.deepEqual((await c.listGroups(owner, `${tag}-renamed`)).groups, []);
});

test("group chat: members only, membership messages, kicked users hear no more", async () => {
  const c = client();
  const [owner, member, outsider] = [await player(c), await player(c), await player(c)];
  const g = await c.createGroup(owner, { name: uniq("chat"), open: true });
  await c.joinGroup(member, g.id);
  const [o, m, x] = [await connect(c, owner), await connect(c, member), await connect(c, outsider)];

  await assert.rejects(x.joinChat(g.id, 3, true, false), (err) => {
    assert.equal(err.code, 3);
    assert.equal(err.message, "Group not found");
    return true;
  });
  const oc = await o.joinChat(g.id, 3, true, false);
  assert.equal(oc.id, `3.${g.id}..`);
  assert.equal(oc.group_id, g.id);
  const mc = await m.joinChat(g.id, 3, true, false);
  await o.next("channel_presence");

  const ack = await m.writeChatMessage(mc.id, { text: "hello guild" });
  assert.equal(ack.group_id, g.id);
  const got = await o.next("channel_message", (e) => e.code === 0);
  assert.deepEqual(got.content, { text: "hello guild" });
  await m.next("channel_message", (e) => e.code === 0);

  // A kick: the member sees the message (code 6), then nothing more.
  await c.kickGroupUsers(owner, g.id, [member.user_id]);
  const kick = await m.next("channel_message", (e) => e.code === 6);
  assert.equal(kick.sender_id, member.user_id);
  assert.equal(kick.username, member.username);
  await o.next("channel_message", (e) => e.code === 6);
  await o.writeChatMessage(oc.id, { text: "after" });
  await o.next("channel_message", (e) => e.code === 0);
  await m.none("channel_message");

  const history = await c.listChannelMessages(owner, oc.id, 10, true);
  assert.deepEqual(history.messages.map((h) => [h.code, h.sender_id]),
                   [[3, member.user_id], [0, member.user_id], [6, member.user_id],
                    [0, owner.user_id]]);
  const refused = await httpError(c.listChannelMessages(member, oc.id, 10, true));
  assert.deepEqual(refused, { status: 400, body: { code: 3, message: "Group not found." } });
});
