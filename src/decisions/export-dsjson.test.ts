import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { importDsjson } from "../app/dsjson-import.js";
import { createEngine, type Engine } from "../app/engine.js";
import { ManualClock } from "../core/clock.js";
import { parseDsjson } from "../ope/sources/dsjson-source.js";
import { readDecisionLog } from "../ope/sources/loopwise-source.js";
import { openSqliteDecisionStore } from "../storage/sqlite/decision-store-sqlite.js";
import { dsjsonLines } from "./export-dsjson.js";

const T0 = Date.UTC(2026, 10, 27, 12);
const join = { windowMs: 600_000, defaultReward: 0, aggregation: "earliest" as const };
let engine: Engine;
let clock: ManualClock;

beforeEach(async () => {
  clock = new ManualClock(T0);
  engine = await createEngine({
    dataDir: ":memory:",
    clock,
    logger: pino({ level: "silent" }),
    config: { rewards: { window: "10m", defaultReward: 0 } },
  });
});
afterEach(() => engine.close());

async function exported(now: number): Promise<string[]> {
  const lines: string[] = [];
  for await (const batch of engine.decisions.scan({})) for (const e of batch) lines.push(...dsjsonLines(e, join, now));
  return lines;
}

describe("the decision log as DSJSON", () => {
  it("reads back as the log's own rounds: each labelled slot's candidates, choice, propensity, distribution and reward", async () => {
    const candidates = ["shoes", "hat", "scarf", "gloves"].map((id, i) => ({ id, features: { price: 10 + i } }));
    const multi = await engine.rank({ userId: "u1", context: { device: "mobile" }, candidates, slots: 3 });
    await engine.reward(multi.decisionId, { value: 2, itemId: multi.ranking[1]?.id as string });
    const single = await engine.rank({ userId: "u2", decisionId: "one", candidates, slots: 1 });
    await engine.reward(single.decisionId, { value: 1 });
    await engine.rank({ userId: "u3", decisionId: "deferred", candidates, slots: 1, deferActivation: true });
    const closed = T0 + 11 * 60_000; // every window closed: unrewarded slots are defaulted to 0

    const lines = await exported(closed);
    expect(lines).toHaveLength(5);
    const events = lines.map((l) => JSON.parse(l));
    expect(events.map((e) => e.EventId)).toEqual([
      `${multi.decisionId}:0`,
      `${multi.decisionId}:1`,
      `${multi.decisionId}:2`,
      "one",
      "deferred",
    ]);
    expect(events[4]._skipLearn).toBe(true); // never activated, as Personalizer marked it
    expect(events[1].c._multi.map((m: { id: string }) => m.id)).not.toContain(multi.ranking[0]?.id); // placed before

    const native = await readDecisionLog(engine.decisions, { join, now: closed });
    const read = parseDsjson(lines.join("\n"));
    expect(read.skipped).toEqual({ skip_learn: 1 });
    expect(read.rounds).toHaveLength(native.rounds.length);
    read.rounds.forEach((round, r) => {
      const own = native.rounds[r] as (typeof native.rounds)[number];
      const members = own.candidates.flatMap((c, j) => (own.placedBefore.includes(j) ? [] : [{ c, j }]));
      expect(round.candidates.map((c) => c.id)).toEqual(members.map((m) => m.c.id));
      expect(round.candidates[round.action]?.id).toBe(own.candidates[own.action]?.id);
      expect(round.propensity).toBe(own.propensity);
      expect(round.reward).toBe(own.reward);
      expect(Array.from(round.probabilities ?? [])).toEqual(members.map((m) => own.probabilities?.[m.j]));
      expect(round.context).toMatchObject({ ...own.context, "profile.events_total": 0 });
    });

    // And `loopwise import` on another install logs the same choices.
    const elsewhere = openSqliteDecisionStore(":memory:");
    expect(await importDsjson(elsewhere.decisions, lines.join("\n"), 600_000)).toMatchObject({
      imported: 4,
      skipped: { skip_learn: 1 },
    });
    const slot1 = (await elsewhere.decisions.get(`${multi.decisionId}:1`))?.decision.slots[0];
    expect(slot1).toMatchObject({ itemId: multi.ranking[1]?.id, propensity: multi.ranking[1]?.probability });
    expect((await elsewhere.decisions.get(`${multi.decisionId}:1`))?.rewards.map((w) => w.value)).toEqual([2]);
    await elsewhere.store.close();
  });

  it("leaves a slot still in its reward window unlabelled", async () => {
    const ranked = await engine.rank({ userId: "u", candidates: [{ id: "a" }, { id: "b" }], slots: 1 });
    const [line] = await exported(T0 + 60_000);
    const event = JSON.parse(line as string);
    expect(event._label_cost).toBeUndefined();
    expect(event.a[0]).toBe(event.c._multi.findIndex((m: { id: string }) => m.id === ranked.ranking[0]?.id) + 1);
    expect(parseDsjson(line as string).skipped).toEqual({ no_label: 1 });
  });
});
