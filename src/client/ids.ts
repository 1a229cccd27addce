/**
 * Client-side idempotency keys (decisionId, rewardId, eventId), so a retried request is the same request.
 * Web Crypto only (Node 20 and browsers); `randomUUID` needs a secure context in browsers, hence the fallback.
 */
export function newClientId(prefix: string): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return `${prefix}_${c.randomUUID()}`;
  const bytes = c.getRandomValues(new Uint8Array(16));
  return `${prefix}_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** An event's id when the caller gave none (`ev_<uuid>`); the benches send these too, as a real client would. */
export function newEventId(): string {
  return newClientId("ev");
}
