import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { createEngine, type Engine } from "./engine.js";
import { policyInputOf } from "./rank.js";

const logger = pino({ level: "silent" });
let engine: Engine;
afterEach(async () => engine?.close());

const candidates = [
  { id: "s1", features: { category: "shoes" } },
  { id: "b1", features: { category: "bags" } },
];
const viewed = (userId: string, category: string, itemId: string) => ({
  events: [{ type: "view", userId, itemId, category }],
});

/**
 * Rank hands the policy the request context and, as a namespace apart, the user's feature-store
 * aggregates (PolicyInput.profile); each policy's spec says which aggregates it reads (features.profile).
 * The default reads none of them (the measurement is in policy-types.ts); a policy that asks for some
 * learns from them, and replaying a logged decision rebuilds exactly what it saw.
 */
describe("policies and the feature store's aggregates", () => {
  it("a policy that reads affinity_category_0 personalizes by it; the default does not read it", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    engine = await createEngine({ dataDir: ":memory:", clock, logger });
    await engine.parts.policies.register({
      id: "by-affinity",
      type: "thompson",
      params: { model: "shared", explorationScale: 0.2, floor: 0.01 },
      features: { id: false, profile: ["affinity_category_0"] },
    });
    await engine.ingestEvents(viewed("shoe-fan", "shoes", "s9"));
    await engine.ingestEvents(viewed("bag-fan", "bags", "b9"));
    // Each fan clicks the item of their category: only the profile tells the two users apart.
    for (let i = 0; i < 150; i++) {
      for (const [userId, liked] of [
        ["shoe-fan", "s1"],
        ["bag-fan", "b1"],
      ] as const) {
        const res = await engine.rank({ userId, candidates, slots: 1, policyId: "by-affinity" });
        await engine.reward(res.decisionId, { value: res.ranking[0]?.id === liked ? 1 : 0 });
      }
    }
    const shoeFirst = async (userId: string, policyId: string) => {
      const res = await engine.rank({ userId, candidates, slots: 1, policyId });
      const record = (await engine.decisions.get(res.decisionId))?.decision;
      expect(record?.features.affinity_category_0).toBe(userId === "shoe-fan" ? "shoes" : "bags");
      return record?.slots[0]?.probabilities[0] ?? Number.NaN;
    };
    expect(await shoeFirst("shoe-fan", "by-affinity")).toBeGreaterThan(0.8);
    expect(await shoeFirst("bag-fan", "by-affinity")).toBeLessThan(0.2);
    // The default policy ignores the profile: both users get one distribution (and one sample pool).
    expect(await shoeFirst("shoe-fan", "default")).toBe(await shoeFirst("bag-fan", "default"));
  });

  it("a logged decision replays to the distribution it was served with (learning and OPE rebuild the input)", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    engine = await createEngine({ dataDir: ":memory:", clock, logger });
    await engine.parts.policies.register({
      id: "all-aggregates",
      type: "thompson",
      params: { model: "shared" },
      features: { id: true, profile: "all" },
    });
    await engine.ingestEvents(viewed("u", "shoes", "s9"));
    for (let i = 0; i < 20; i++) {
      const res = await engine.rank({ userId: "u", candidates, slots: 1, policyId: "all-aggregates" });
      await engine.reward(res.decisionId, { value: res.ranking[0]?.id === "s1" ? 1 : 0 });
    }
    const res = await engine.rank({
      userId: "u",
      context: { device: "mobile" },
      candidates,
      slots: 2,
      policyId: "all-aggregates",
    });
    const record = (await engine.decisions.get(res.decisionId))?.decision;
    if (!record) throw new Error("decision not logged");
    const policy = engine.parts.policies.find("all-aggregates");
    const input = policyInputOf(record);
    expect(input.profile?.affinity_category_0).toBe("shoes");
    const placed: number[] = [];
    for (const slot of record.slots) {
      expect(Array.from(policy?.distribution(input, placed) ?? [])).toEqual(Array.from(slot.probabilities));
      placed.push(slot.index);
    }
  });
});
