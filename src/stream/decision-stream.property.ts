import fc from "fast-check";
import { expect, it } from "vitest";
import type { StreamFactory } from "./decision-stream.contract.js";
import type { DecisionStream, DeliveredEntry } from "./decision-stream.js";
import { decisionEntries } from "./stream-fixtures.js";

/**
 * At-least-once delivery under random interleavings (issue 13): consumers of one group read, ack some of what
 * they hold, crash (forgetting what they held, never acking it) and claim pending entries (idle 0: a standby
 * that took over under a lease claims at once). After a final drain, every appended entry was processed and
 * acked, none lost, and every repeat delivery of an entry was a redelivery (its delivery count went up by one
 * each time; `read` never delivers an entry twice).
 */
type Action =
  | { kind: "append"; decisions: number }
  | { kind: "read"; consumer: number; partition: number; count: number }
  | { kind: "ack"; consumer: number; keep: number }
  | { kind: "crash"; consumer: number }
  | { kind: "claim"; consumer: number; partition: number; count: number };

const CONSUMERS = 3;
const PARTITIONS = 2;

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant("append" as const), decisions: fc.integer({ min: 1, max: 3 }) }),
  fc.record({
    kind: fc.constant("read" as const),
    consumer: fc.nat(CONSUMERS - 1),
    partition: fc.nat(PARTITIONS - 1),
    count: fc.integer({ min: 1, max: 6 }),
  }),
  fc.record({ kind: fc.constant("ack" as const), consumer: fc.nat(CONSUMERS - 1), keep: fc.nat(3) }),
  fc.record({ kind: fc.constant("crash" as const), consumer: fc.nat(CONSUMERS - 1) }),
  fc.record({
    kind: fc.constant("claim" as const),
    consumer: fc.nat(CONSUMERS - 1),
    partition: fc.nat(PARTITIONS - 1),
    count: fc.integer({ min: 1, max: 6 }),
  }),
);

export function streamDeliveryProperty(name: string, factory: StreamFactory, numRuns: number): void {
  it(`delivers every entry at least once through crashes and claims (${name}, ${numRuns} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 40 }), async (actions) => {
        const { stream } = await factory(PARTITIONS);
        try {
          await runScenario(stream, actions);
        } finally {
          await stream.close();
        }
      }),
      { numRuns },
    );
  });
}

async function runScenario(stream: DecisionStream, actions: Action[]): Promise<void> {
  await stream.ensureGroup("g");
  const appended = new Set<string>();
  const deliveries = new Map<string, number[]>();
  /** Entries a live consumer finished (acked): a crashed consumer's deliveries do not count. */
  const processed = new Set<string>();
  const held: DeliveredEntry[][] = Array.from({ length: CONSUMERS }, () => []);
  let decisions = 0;
  const take = (consumer: number, got: DeliveredEntry[]): void => {
    for (const e of got) {
      const key = `${e.partition}/${e.id}`;
      deliveries.set(key, [...(deliveries.get(key) ?? []), e.deliveries]);
    }
    held[consumer]!.push(...got);
  };
  const ackHeld = async (consumer: number, keep: number): Promise<void> => {
    const done = held[consumer]!.splice(0, Math.max(0, held[consumer]!.length - keep));
    for (const e of done) processed.add(`${e.partition}/${e.id}`);
    for (let p = 0; p < PARTITIONS; p++) {
      const ids = done.filter((e) => e.partition === p).map((e) => e.id);
      if (ids.length > 0) await stream.ack("g", p, ids);
    }
  };
  for (const a of actions) {
    if (a.kind === "append") {
      const entries = Array.from({ length: a.decisions }, () => decisionEntries(`d${decisions++}`, 1000)[0]!);
      for (const x of await stream.append(entries)) appended.add(`${x.partition}/${x.id}`);
    } else if (a.kind === "read") {
      const got = await stream.read("g", `c${a.consumer}`, a.partition, { count: a.count });
      expect(got.every((e) => e.deliveries === 1)).toBe(true);
      take(a.consumer, got);
    } else if (a.kind === "ack") await ackHeld(a.consumer, a.keep);
    else if (a.kind === "crash") held[a.consumer] = [];
    else take(a.consumer, await stream.claim("g", `c${a.consumer}`, a.partition, { minIdleMs: 0, count: a.count }));
  }
  // Drain: a standby claims whatever is pending, reads the rest, and acks everything.
  for (let p = 0; p < PARTITIONS; p++) {
    take(0, await stream.claim("g", "standby", p, { minIdleMs: 0, count: 1000 }));
    take(0, await stream.read("g", "standby", p, { count: 1000 }));
  }
  held[0] = held.flat();
  await ackHeld(0, 0);
  expect(processed).toEqual(appended);
  expect(new Set(deliveries.keys())).toEqual(appended);
  for (const counts of deliveries.values()) expect(counts).toEqual(counts.map((_, i) => i + 1));
  for (let p = 0; p < PARTITIONS; p++) expect(await stream.pendingCount("g", p)).toBe(0);
}
