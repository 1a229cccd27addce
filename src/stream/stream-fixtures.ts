import type { StreamEntry } from "./stream-entry.js";

/**
 * Entries of every kind for one decision, for the stream's contract suite, property test and bench. The record
 * bytes cover every byte value (0x00..0xff) so a text-mangling adapter would be caught.
 */
export function decisionEntries(decisionId: string, t: number, recordBytes = 64): StreamEntry[] {
  const bytes = new Uint8Array(recordBytes);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + decisionId.length) & 0xff;
  return [
    {
      kind: "decision",
      decision: {
        decisionId,
        timestamp: t,
        userId: `u-${decisionId}`,
        policyId: "p1",
        activated: true,
        activatedAt: t,
        bytes,
      },
    },
    {
      kind: "exposure",
      exposure: { decisionId, rolloutId: "r1", stage: 1, arm: "candidate", userId: `u-${decisionId}`, at: t },
    },
    { kind: "activate", decisionId, at: t + 1 },
    {
      kind: "reward",
      reward: { rewardId: `r-${decisionId}`, decisionId, value: 1, type: "click", timestamp: t + 2, source: "api" },
      windowMs: 60_000,
    },
    {
      kind: "event",
      event: {
        eventId: `e-${decisionId}`,
        type: "click",
        userId: `u-${decisionId}`,
        itemId: "i1",
        timestamp: t + 3,
        decisionId,
      },
    },
  ];
}
