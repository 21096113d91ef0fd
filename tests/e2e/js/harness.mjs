// Shared set-up for the end-to-end tests: the official nakama-js client, under Node, pointed at
// the kizuna server the pytest wrapper started (its port is in KZ_E2E_PORT).
import WebSocket from "ws";
import { Client } from "@heroiclabs/nakama-js";
import { randomUUID } from "node:crypto";

globalThis.WebSocket = WebSocket; // nakama-js expects a browser-style global WebSocket

export const PORT = process.env.KZ_E2E_PORT || "7350";
export const HOST = "127.0.0.1";

export function client(serverKey = "defaultkey") {
  return new Client(serverKey, HOST, PORT, false, 10000, false);
}

export function uniq(prefix = "id") {
  return `${prefix}-${randomUUID()}`;
}

// nakama-js rejects with the raw fetch Response on HTTP errors.
export async function httpError(promise) {
  try {
    await promise;
  } catch (err) {
    if (err && typeof err.status === "number") {
      let body = null;
      try { body = await err.json(); } catch { /* not JSON */ }
      return { status: err.status, body };
    }
    throw err;
  }
  throw new Error("expected the call to fail, it succeeded");
}
