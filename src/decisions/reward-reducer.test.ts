import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { LearningLoop } from "../app/learning.js";
import { EngineMetrics } from "../app/metrics.js";
import type { Policy, PolicyFeedback } from "../bandit/policy.js";
import { createPolicy } from "../bandit/policy-types.js";
import { MemoryDecisionStore } from "../storage/memory/decision-store-memory.js";
import type { DecisionRecord, RewardRecord } from "./decision-record.js";
import type { JoinConfig } from "./join-config.js";
import { joinFacts, SLOT_DEFAULTED, SLOT_JOINED, SLOT_NOT_ACTIVATED } from "./join-facts.js";
import { joinRewards } from "./reward-join.js";
import { activateWindow, applyReward, closeWindow, openWindow, type WindowState } from "./reward-reducer.js";
import { makeDecision } from "./test-fixtures.js";

/**
 * The reward join's one definition, checked as a property: random decisions (immediate, deferred, never
 * activated) with random reward streams (out-of-order client timestamps, duplicate ids, late arrivals, unknown
 * items), fed as per-decision entry streams interleaved at random across decisions (as from several API nodes):
 * two online learners driving the reducer, each on its own interleaving, the in-process LearningLoop fed by the
 * store's outcomes, and the log (the memory store) on a third interleaving. Every activated slot is learned
 * exactly once, with the value the log's join (`joinRewards` and the columnar `joinFacts`) gives afterwards.
 */
type Entry =
  | { kind: "decide"; at: number; record: DecisionRecord }
  | { kind: "activate"; at: number }
  | { kind: "reward"; at: number; reward: RewardRecord };

interface Scenario {
  config: JoinConfig;
  decisions: { id: string; entries: Entry[] }[];
}

const ITEMS = ["a", "b", "c"];

const rewardArb = fc.record({
  id: fc.integer({ min: 0, max: 4 }),
  item: fc.constantFrom<string | undefined>(undefined, "a", "b", "c", "zz"),
  value: fc.integer({ min: -3, max: 5 }),
  after: fc.integer({ min: 0, max: 150 }),
  clientSkew: fc.integer({ min: -200, max: 200 }),
});

const decisionArb = fc.record({
  slots: fc.integer({ min: 1, max: 3 }),
  created: fc.integer({ min: 0, max: 100 }),
  /** -1: activated at creation; -2: never activated; else deferred by that much. */
  activation: fc.integer({ min: -2, max: 60 }),
  rewards: fc.array(rewardArb, { maxLength: 8 }),
});

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    windowMs: fc.integer({ min: 1, max: 100 }),
    aggregation: fc.constantFrom<JoinConfig["aggregation"]>("earliest", "sum"),
    defaultReward: fc.integer({ min: -1, max: 1 }),
    decisions: fc.array(decisionArb, { minLength: 1, maxLength: 6 }),
  })
  .map(({ windowMs, aggregation, defaultReward, decisions }) => ({
    config: { windowMs, aggregation, defaultReward },
    decisions: decisions.map((d, k) => entriesOf(`d${k}`, d)),
  }));

type DecisionShape = {
  slots: number;
  created: number;
  activation: number;
  rewards: { id: number; item: string | undefined; value: number; after: number; clientSkew: number }[];
};

function entriesOf(id: string, d: DecisionShape): { id: string; entries: Entry[] } {
  const immediate = d.activation === -1;
  const record = makeDecision({
    decisionId: id,
    timestamp: d.created,
    context: { decision: id },
    activated: immediate,
    ...(immediate ? { activatedAt: d.created } : {}),
    candidates: ITEMS.map((c) => ({ id: c })),
    slots: ITEMS.slice(0, d.slots).map((itemId, p) => ({
      position: p,
      itemId,
      index: p,
      propensity: 0.5,
      probabilities: [],
    })),
  });
  if (!immediate) delete record.activatedAt;
  const later: Entry[] = d.rewards.map((r, i) => ({
    kind: "reward",
    at: d.created + r.after,
    reward: {
      rewardId: `${id}-r${r.id}`,
      decisionId: id,
      value: r.value,
      type: `t${i}`,
      timestamp: d.created + r.after + r.clientSkew,
      receivedAt: d.created + r.after,
      source: "api",
      ...(r.item === undefined ? {} : { itemId: r.item }),
    },
  }));
  if (d.activation >= 0) later.push({ kind: "activate", at: d.created + d.activation });
  // A decision's own order is its server time order (activation before a reward received at the same time).
  later.sort((x, y) => x.at - y.at || (x.kind === "activate" ? -1 : 0) - (y.kind === "activate" ? -1 : 0));
  return { id, entries: [{ kind: "decide", at: d.created, record } as Entry, ...later] };
}

/** Merges the decisions' entry streams in the order `picks` chooses, keeping each decision's own order. */
function interleave(s: Scenario, picks: number[]): { id: string; entry: Entry }[] {
  const queues = s.decisions.map((d) => ({ id: d.id, rest: [...d.entries] }));
  const out: { id: string; entry: Entry }[] = [];
  let p = 0;
  for (;;) {
    const open = queues.filter((q) => q.rest.length > 0);
    if (open.length === 0) return out;
    const q = open[(picks[p++ % Math.max(1, picks.length)] ?? 0) % open.length]!;
    out.push({ id: q.id, entry: q.rest.shift()! });
  }
}

type Learned = Map<string, number[]>; // `${decision}/${slot}` → values learned

function learn(into: Learned, id: string, slot: number, value: number): void {
  const key = `${id}/${slot}`;
  into.set(key, [...(into.get(key) ?? []), value]);
}

/** An online learner on the reducer: one window state per decision; time passing closes it (a watermark). */
function reducerLearner(s: Scenario, order: { id: string; entry: Entry }[]): Learned {
  const learned: Learned = new Map();
  const windows = new Map<string, WindowState>();
  for (const { id, entry } of order) {
    if (entry.kind === "decide") {
      const r = entry.record;
      windows.set(id, openWindow(r.slots, r.activated ? r.activatedAt : undefined, s.config));
      continue;
    }
    const w = windows.get(id)!;
    for (const e of closeWindow(w, entry.at, s.config)) learn(learned, id, e.slot, e.reward);
    if (entry.kind === "activate") activateWindow(w, entry.at, s.config);
    else {
      const reward = { ...entry.reward, receivedAt: entry.at };
      for (const e of applyReward(w, reward, s.config).effects) learn(learned, id, e.slot, e.reward);
    }
  }
  for (const [id, w] of windows)
    for (const e of closeWindow(w, Number.POSITIVE_INFINITY, s.config)) learn(learned, id, e.slot, e.reward);
  return learned;
}

/**
 * The log on its own interleaving, and the in-process LearningLoop fed with the store's outcomes. One process
 * has one monotone clock, so its closing timer is a global watermark: the entries reach it in time order (the
 * interleaving breaks ties).
 */
async function logAndLoop(s: Scenario, interleaved: { id: string; entry: Entry }[]) {
  const order = [...interleaved].sort((x, y) => x.entry.at - y.entry.at);
  const store = new MemoryDecisionStore();
  const { policy, feedback } = recordingPolicy();
  const loop = new LearningLoop(s.config, { get: () => policy }, new EngineMetrics(), pino({ level: "silent" }));
  const slotOf = new Map<string, DecisionRecord>();
  const appended: string[] = [];
  for (const { id, entry } of order) {
    loop.closeWindows(entry.at);
    if (entry.kind === "decide") {
      await store.append(entry.record);
      appended.push(id);
      slotOf.set(id, entry.record);
      loop.track(entry.record);
    } else if (entry.kind === "activate") {
      await store.activate(id, entry.at);
      loop.track({ ...slotOf.get(id)!, activated: true, activatedAt: entry.at });
    } else {
      const outcome = await store.addReward(entry.reward, s.config.windowMs);
      if (outcome === "accepted") loop.onReward(id, { ...entry.reward, receivedAt: entry.at });
    }
  }
  loop.closeWindows(Number.POSITIVE_INFINITY);
  const looped: Learned = new Map();
  for (const f of feedback) learn(looped, decisionOfInput.get(f.input) ?? "?", f.index, f.reward);
  return { store, looped, appended };
}

/** The policy inputs the loop passes back name their decision through this map (filled by the recorder). */
const decisionOfInput = new WeakMap<object, string>();

function recordingPolicy(): { policy: Policy; feedback: PolicyFeedback[] } {
  const inner = createPolicy("default", { type: "uniform" });
  const feedback: PolicyFeedback[] = [];
  const policy = Object.assign(Object.create(inner) as Policy, {
    update: (f: PolicyFeedback) => {
      decisionOfInput.set(f.input, String(f.input.context.decision));
      feedback.push(f);
    },
  });
  return { policy, feedback };
}

describe("the reward join is one definition, online and in the log", () => {
  it("online effects (value, learned exactly once) equal the log's join, whatever the interleaving", async () => {
    await fc.assert(
      fc.asyncProperty(
        scenarioArb,
        fc.array(fc.nat(), { maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 64 }),
        async (s, picksA, picksB, picksLog) => {
          const nodeA = reducerLearner(s, interleave(s, picksA));
          const nodeB = reducerLearner(s, interleave(s, picksB));
          const { store, looped, appended } = await logAndLoop(s, interleave(s, picksLog));
          const fromLog: Learned = new Map();
          const facts: Learned = new Map();
          for await (const batch of store.scan()) {
            for (const entry of batch) {
              const joined = joinRewards(entry, s.config, Number.POSITIVE_INFINITY);
              joined.slots.forEach((slot, k) => {
                if (slot.status === "not_activated") return;
                learn(fromLog, entry.decision.decisionId, k, slot.reward as number);
              });
            }
          }
          for await (const f of store.scanFacts()) {
            const joined = joinFacts(f, s.config, Number.POSITIVE_INFINITY);
            for (let d = 0; d < f.decisions; d++) {
              const id = appended[f.seq[d] as number] as string;
              for (let k = f.slotStart[d] as number; k < (f.slotStart[d + 1] as number); k++) {
                if (joined.status[k] === SLOT_NOT_ACTIVATED) continue;
                expect([SLOT_JOINED, SLOT_DEFAULTED]).toContain(joined.status[k]);
                learn(facts, id, k - (f.slotStart[d] as number), joined.reward[k] as number);
              }
            }
          }
          expect(sorted(nodeA)).toEqual(sorted(fromLog));
          expect(sorted(nodeB)).toEqual(sorted(fromLog));
          expect(sorted(looped)).toEqual(sorted(fromLog));
          expect(sorted(facts)).toEqual(sorted(fromLog));
        },
      ),
      { numRuns: 150 },
    );
  });
});

function sorted(m: Learned): [string, number[]][] {
  return [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
}
