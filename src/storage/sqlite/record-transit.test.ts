import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../app/engine.js";
import { ManualClock } from "../../core/clock.js";
import { Xoshiro128 } from "../../core/rng.js";
import type { DecisionRecord } from "../../decisions/decision-record.js";
import { makeDecision } from "../../decisions/test-fixtures.js";
import { openSqliteDecisionStore } from "./decision-store-sqlite.js";
import { encodeRecord, TRANSIT_MAGIC } from "./record-codec.js";
import { storedRecord } from "./record-transit.js";

/** What the log writer stores for a record rank's thread sent in transit. */
const viaTransit = (record: DecisionRecord) => storedRecord(encodeRecord(record, true));

let engine: Engine;
const ranked: DecisionRecord[] = [];

beforeAll(async () => {
  engine = await createEngine({
    dataDir: ":memory:",
    clock: new ManualClock(Date.UTC(2026, 10, 27, 12)),
    logger: pino({ level: "silent" }),
  });
  engine.parts.emitter.on("decision", (d) => ranked.push(d));
  const rng = new Xoshiro128(5);
  await engine.upsertItems({
    items: Array.from({ length: 300 }, (_, i) => ({ id: `sku-${i}`, category: `c${i % 7}`, price: 1 + (i % 50) })),
  });
  for (let i = 0; i < 120; i++) {
    const start = Math.floor(rng.next() * 200);
    const candidates = Array.from({ length: 60 }, (_, c) => ({
      id: `sku-${start + c}`,
      features: { discount: Math.round(rng.next() * 50), badge: rng.next() < 0.2 ? "new" : "none" },
    }));
    const res = await engine.rank({ userId: `u${i}`, context: { hour: i % 24 }, candidates, slots: 6 });
    // Some learning, so the default policy's distributions move off their first pools.
    if (i % 4 === 0) await engine.reward(res.decisionId, { value: 1, itemId: res.ranking[0]!.id });
  }
});
afterAll(() => engine.close());

describe("transit records (distributions coded on the log writer's thread)", () => {
  it("store exactly the bytes of the stored form, for the default policy's decisions", () => {
    expect(ranked.length).toBe(120);
    for (const record of ranked) {
      const transit = encodeRecord(record, true);
      expect(transit[0]).toBe(TRANSIT_MAGIC);
      // The transit form is the raw Float64 distributions: it must differ, or the test proves nothing.
      expect(transit.length).toBeGreaterThan(encodeRecord(record).length);
      expect(Buffer.from(storedRecord(transit)).equals(Buffer.from(encodeRecord(record)))).toBe(true);
    }
  });

  it("store exactly the stored form for every distribution form and shape", () => {
    const f64 = (values: number[]) => Float64Array.from(values);
    const candidates = Array.from({ length: 40 }, (_, j) => ({ id: `i${j}`, features: { p: j / 3 } }));
    const spread = f64(candidates.map((_, j) => (j + 1) / 820));
    const cases: DecisionRecord[] = [
      makeDecision({
        candidates,
        slots: [
          // dense, sparse (greedy), palette-sized, with -0, NaN and Infinity; a plain array; none
          { position: 0, itemId: "i0", index: 0, propensity: 0.1, probabilities: spread as unknown as number[] },
          {
            position: 1,
            itemId: "i1",
            index: 1,
            propensity: 1,
            probabilities: f64(candidates.map((_, j) => (j === 1 ? 1 : 0))) as unknown as number[],
          },
          {
            position: 2,
            itemId: "other",
            index: 2,
            propensity: 0.5,
            probabilities: f64(candidates.map((_, j) => [0.25, 0.5, 0][j % 3] as number)) as unknown as number[],
          },
          {
            position: 3,
            itemId: "i3",
            index: 3,
            propensity: 0.5,
            probabilities: f64([-0, Number.NaN, Number.POSITIVE_INFINITY, 0.5]) as unknown as number[],
          },
          { position: 4, itemId: "i4", index: 4, propensity: 0.5, probabilities: [0.5, 0.25, 0.25] },
          { position: 5, itemId: "i5", index: 5, propensity: 0.5 } as DecisionRecord["slots"][number],
        ],
      }),
      // A slot shape the binary layout does not cover: JSON, as the stored form keeps it.
      {
        ...makeDecision(),
        slots: [{ position: 0, itemId: "a", index: 0, propensity: 1, probabilities: f64([1, 0]), note: "x" }],
      } as unknown as DecisionRecord,
      makeDecision({ slots: [] }),
    ];
    for (const record of cases)
      expect(Buffer.from(viaTransit(record)).equals(Buffer.from(encodeRecord(record)))).toBe(true);
  });

  it("pass stored records through unchanged", () => {
    const bytes = encodeRecord(makeDecision());
    expect(storedRecord(bytes)).toBe(bytes);
  });

  it("are stored by the SQLite log as the stored form (append and appendMany)", async () => {
    const { decisions, store } = openSqliteDecisionStore(":memory:");
    try {
      expect(await decisions.append(ranked[7]!)).toBe(true);
      await decisions.appendMany(ranked.slice(8, 20));
      const read = store.db.prepare("SELECT record FROM decisions WHERE decision_id = ?");
      for (const record of [ranked[7]!, ...ranked.slice(8, 20)]) {
        const row = read.get(record.decisionId) as { record: Uint8Array };
        expect(Buffer.from(row.record).equals(Buffer.from(encodeRecord(record)))).toBe(true);
      }
    } finally {
      await store.close();
    }
  });
});
