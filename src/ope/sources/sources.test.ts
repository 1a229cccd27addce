import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../decisions/decision-record.js";
import { MemoryDecisionStore } from "../../storage/memory/decision-store-memory.js";
import { ips } from "../estimators/ips.js";
import { replay } from "../estimators/replay.js";
import { snips } from "../estimators/snips.js";
import { targetColumns } from "../evaluate-log.js";
import type { TargetPolicy } from "../targets.js";
import { uniformTarget } from "../targets.js";
import { parseDsjson } from "./dsjson-source.js";
import { readDecisionLog } from "./loopwise-source.js";
import { parseObdCsv } from "./obd-source.js";
import { parseSourceSpec } from "./source-spec.js";

const spec = (name: string) => readFileSync(new URL(`../../../spec/ope/${name}`, import.meta.url), "utf8");
const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;

describe("parseSourceSpec", () => {
  it("reads the three source kinds and loopwise ranges", () => {
    expect(parseSourceSpec("obd:a/b.csv")).toEqual({ kind: "obd", path: "a/b.csv" });
    expect(parseSourceSpec("dsjson:x.json")).toEqual({ kind: "dsjson", path: "x.json" });
    expect(parseSourceSpec("loopwise:")).toEqual({ kind: "loopwise" });
    expect(parseSourceSpec("loopwise")).toEqual({ kind: "loopwise" });
    expect(parseSourceSpec("loopwise:[2026-01-01..2026-01-02]")).toEqual({
      kind: "loopwise",
      from: Date.UTC(2026, 0, 1),
      to: Date.UTC(2026, 0, 2),
    });
    expect(parseSourceSpec("loopwise:1000..")).toEqual({ kind: "loopwise", from: 1000 });
    expect(parseSourceSpec("loopwise:..1000")).toEqual({ kind: "loopwise", to: 1000 });
  });
  it("names what is wrong", () => {
    expect(() => parseSourceSpec("csv:x")).toThrow(/expected loopwise/);
    expect(() => parseSourceSpec("obd:")).toThrow(/needs a file/);
    expect(() => parseSourceSpec("loopwise:yesterday..")).toThrow(/not an ISO-8601/);
    expect(() => parseSourceSpec("loopwise:2026-01-01")).toThrow(/FROM..TO/);
  });
});

describe("DSJSON (spec/ope/dsjson-sample.dsjson, expected values by hand in dsjson-expected.json)", () => {
  const expected = JSON.parse(spec("dsjson-expected.json"));
  const log = parseDsjson(spec("dsjson-sample.dsjson"), { source: "sample" });

  it("reads rounds: reward = −cost, 1-based actions, propensities, flattened namespaces", () => {
    expect(log.rounds.length).toBe(expected.rounds);
    expect(log.skipped).toEqual(expected.skipped);
    expect(log.rounds.map((r) => r.reward)).toEqual(expected.reward);
    expect(log.rounds.map((r) => r.propensity)).toEqual(expected.propensity);
    expect(log.rounds.map((r) => r.action)).toEqual(expected.action);
    expect(Array.from(log.rounds[0]?.probabilities ?? [])).toEqual(expected.loggingDistributionRound0);
    expect(log.rounds[0]?.context).toEqual(expected.contextRound0);
    expect(log.rounds[0]?.candidates.map((c) => c.id)).toEqual(["shoes", "hat", "scarf"]);
    expect(log.rounds[0]?.candidates[0]?.features).toEqual({ id: "shoes", price: 59.9 });
  });

  it("gives the hand-computed IPS and SNIPS for the uniform target", () => {
    const { input } = targetColumns(log.rounds, uniformTarget(), undefined);
    for (const [i, w] of expected.uniform.weights.entries()) {
      expect((input.targetProb[i] as number) / (input.propensity[i] as number)).toBeCloseTo(w, 12);
    }
    expect(mean(ips.terms(input, {}))).toBeCloseTo(expected.uniform.ips, 12);
    expect(mean(snips.terms(input, {}))).toBeCloseTo(expected.uniform.snips, 12);
  });

  it("gives the hand-computed IPS, SNIPS and replay for a deterministic target", () => {
    const hat: TargetPolicy = {
      name: "hat",
      kind: "policy",
      distribution: (r) => r.candidates.map((c) => (c.id === "hat" ? 1 : 0)),
    };
    const { input } = targetColumns(log.rounds, hat, undefined);
    expect(mean(ips.terms(input, {}))).toBeCloseTo(expected.hat.ips, 12);
    expect(mean(snips.terms(input, {}))).toBeCloseTo(expected.hat.snips, 12);
    expect(mean(replay.terms(input, {}))).toBeCloseTo(expected.hat.replay, 12);
  });

  it("names the line of a malformed event", () => {
    expect(() => parseDsjson('{"_label_cost":0}\n{bad')).toThrow(/line 1/);
    expect(() => parseDsjson('{"_label_cost":0,"a":[1],"p":[1],"c":{}}')).toThrow(/_multi/);
  });
});

describe("OBD CSV", () => {
  const csv = [
    ",timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0,user-item_affinity_1,user-item_affinity_2",
    "0,2019-11-24 00:00:00+00:00,2,3,1,0.25,aa,0.0,1.0,0.0",
    "1,2019-11-24 00:00:01+00:00,0,1,0,0.5,bb,0.0,0.0,2.0",
    "2,2019-11-24 00:00:02+00:00,1,2,0,0.125,aa,0.0,0.0,0.0",
  ].join("\n");
  const items = [",item_id,item_feature_0,item_feature_1", "0,0,-0.5,x", "1,1,0.1,y", "2,2,0.7,x"].join("\n");

  it("maps positions 1,2,3 to 0,1,2, uses all items as actions and features as context", () => {
    const log = parseObdCsv(csv, { source: "t.csv", itemContext: items });
    expect(log.rounds.map((r) => r.position)).toEqual([2, 0, 1]);
    expect(log.rounds.map((r) => r.action)).toEqual([2, 0, 1]);
    expect(log.rounds.map((r) => r.reward)).toEqual([1, 0, 0]);
    expect(log.rounds.map((r) => r.propensity)).toEqual([0.25, 0.5, 0.125]);
    expect(log.rounds[0]?.candidates.length).toBe(3);
    expect(log.rounds[0]?.candidates[1]).toEqual({ id: "1", features: { item_feature_0: 0.1, item_feature_1: "y" } });
    expect(log.rounds[0]?.context).toEqual({
      user_feature_0: "aa",
      "user-item_affinity_0": 0,
      "user-item_affinity_1": 1,
      "user-item_affinity_2": 0,
    });
    expect(log.rounds[0]?.probabilities).toBeUndefined();
  });
});

describe("Loopwise decision log", () => {
  const base = (id: string, t: number, extra: Partial<DecisionRecord> = {}): DecisionRecord => ({
    decisionId: id,
    timestamp: t,
    userId: "u",
    context: { device: "mobile", clicks_1h: 9 },
    features: { clicks_1h: 2, views_1h: 5 },
    candidates: [{ id: "a" }, { id: "b" }, { id: "c" }],
    slots: [
      { position: 0, itemId: "b", index: 1, propensity: 0.5, probabilities: [0.25, 0.5, 0.25] },
      { position: 1, itemId: "c", index: 2, propensity: 0.4, probabilities: [0.6, 0, 0.4] },
    ],
    policy: { id: "p", type: "t", version: 1 },
    baselineItemId: "a",
    activated: true,
    candidateSource: "request",
    fallbacks: [],
    ...extra,
  });

  it("turns resolved slots into rounds and counts the rest as skipped", async () => {
    const store = new MemoryDecisionStore();
    const window = 60_000;
    await store.append(base("d1", 1000));
    await store.append(base("d2", 2000, { activated: false }));
    await store.append(base("d3", 200_000));
    await store.addReward(
      { rewardId: "r1", decisionId: "d1", value: 1, itemId: "c", type: "click", timestamp: 1500, source: "api" },
      window,
    );
    await store.addReward(
      { rewardId: "r3", decisionId: "d3", value: 1, itemId: "b", type: "click", timestamp: 200_500, source: "api" },
      window,
    );
    const log = await readDecisionLog(store, {
      join: { windowMs: window, defaultReward: 0, aggregation: "earliest" },
      now: 210_000,
    });
    // d1: both slots resolved (slot 1 joined, slot 0 defaulted); d2: never activated; d3: slot 0 joined, slot 1 pending.
    expect(log.rounds.map((r) => [r.position, r.action, r.reward])).toEqual([
      [0, 1, 0],
      [1, 2, 1],
      [0, 1, 1],
    ]);
    expect(log.skipped).toEqual({ pending: 1, not_activated: 2 });
    expect(log.rounds[1]?.placedBefore).toEqual([1]);
    expect(log.rounds[0]?.placedBefore).toEqual([]);
    expect(log.rounds[1]?.propensity).toBe(0.4);
    expect(Array.from(log.rounds[1]?.probabilities ?? [])).toEqual([0.6, 0, 0.4]);
    // The request context and the aggregates (profile) as the rank use-case passed them to the policy.
    expect(log.rounds[0]?.context).toEqual({ device: "mobile", clicks_1h: 9 });
    expect(log.rounds[0]?.profile).toEqual({ clicks_1h: 2, views_1h: 5 });
    expect(log.notes.join(" ")).toMatch(/3 slots skipped: 1 with rewards still pending, 2 never activated/);
    expect(log.notes.join(" ")).toMatch(/biased toward rewarded ones/);
  });

  it("reads only the requested time range", async () => {
    const store = new MemoryDecisionStore();
    await store.append(base("d1", 1000));
    await store.append(base("d2", 5000));
    const log = await readDecisionLog(store, {
      from: 2000,
      join: { windowMs: 10, defaultReward: 0, aggregation: "earliest" },
      now: 1e9,
    });
    expect(log.rounds.length).toBe(2);
    expect(log.source).toMatch(/^loopwise:\[1970-01-01T00:00:02.000Z\.\.\]/);
  });
});
