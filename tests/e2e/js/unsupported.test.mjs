// What this server does not do yet answers 501 {code: 12} through the official client, so a game
// can tell "not supported here" from "not found": purchases, subscriptions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { client, httpError, player } from "./harness.mjs";

const c = client();

async function refused(promise, message) {
  const { status, body } = await httpError(promise);
  assert.equal(status, 501);
  assert.deepEqual(body, { code: 12, message });
}

test("purchases and subscriptions answer 501 code 12", async () => {
  const s = await player(c);
  await refused(c.validatePurchaseApple(s, "receipt"),
    "In-app purchases are not supported by this server yet.");
  await refused(c.validateSubscriptionApple(s, "receipt"),
    "Subscriptions are not supported by this server yet.");
  await refused(c.listSubscriptions(s, undefined, 10),
    "Subscriptions are not supported by this server yet.");
  await refused(c.getSubscription(s, "product"),
    "Subscriptions are not supported by this server yet.");
});
