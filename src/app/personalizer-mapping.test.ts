import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { DecisionRecord } from "../decisions/decision-record.js";
import { parseDsjson } from "../ope/sources/dsjson-source.js";
import { flattenFeatures } from "./personalizer-features.js";
import {
  isoDuration,
  parsePersonalizer,
  personalizerMultiSlotRankSchema,
  personalizerRankSchema,
  serviceConfiguration,
  slotRanks,
  timeSpan,
  toLoopwiseRank,
  toPersonalizerRanking,
} from "./personalizer-mapping.js";

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../spec/personalizer/${name}`, import.meta.url), "utf8")) as {
    request: Record<string, unknown>;
  };

describe("Personalizer features flatten into one FeatureMap", () => {
  it("dots namespaces and keeps strings, numbers and booleans as they are (the documented example)", () => {
    const { request } = fixture("rank-namespaces.json");
    const flat = flattenFeatures(request.contextFeatures, "contextFeatures");
    expect(flat.errors).toEqual([]);
    expect(flat.features).toEqual({
      "user.profileType": "AnonymousUser",
      "user.latLong": "47.6,-122.1",
      "environment.dayOfMonth": "28",
      "environment.monthOfYear": "8",
      "environment.weather": "Sunny",
      "device.mobile": true,
      "device.windows": true,
      "recentActivity.itemsInCart": 3,
    });
  });

  it("indexes arrays, drops nulls and _metadata; later objects win", () => {
    const flat = flattenFeatures(
      [{ emb: [0.5, -1], tags: ["new"], gone: null, _tag: "x", a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }],
      "f",
    );
    expect(flat.features).toEqual({ "emb[0]": 0.5, "emb[1]": -1, "tags[0]": "new", "a.b.c": 2 });
  });

  it("names features as the DSJSON reader names the same features in an exported log", () => {
    const shared = { User: { id: "anna", tier: "gold" }, hour: 10, emb: [1, 2] };
    const line = JSON.stringify({
      _label_cost: -1,
      _label_probability: 1,
      a: [1],
      p: [1],
      c: { ...shared, _multi: [{ id: "x", price: 1 }] },
    });
    const fromLog = parseDsjson(line).rounds[0];
    expect(flattenFeatures([shared], "c").features).toEqual(fromLog?.context);
  });

  it("names the field where the client wrote it when a value is unusable", () => {
    const long = "x".repeat(2000);
    const flat = flattenFeatures([{ ok: 1 }, { user: { bio: long } }, 7], "contextFeatures");
    expect(flat.errors).toEqual([{ path: "contextFeatures[2]", message: "must be an object of features" }]);
    const tooLong = flattenFeatures([{ ok: 1 }, { user: { bio: long } }], "contextFeatures");
    expect(tooLong.errors.map((e) => e.path)).toEqual(["contextFeatures[1].user.bio"]);
    expect(flattenFeatures({ a: 1 }, "actions[0].features").errors[0]?.path).toBe("actions[0].features");
  });
});

describe("a Personalizer rank is a one-slot Loopwise decision", () => {
  it("maps the documented rank request", () => {
    const req = parsePersonalizer(personalizerRankSchema, fixture("rank.json").request);
    expect(toLoopwiseRank(req, "ev-1")).toEqual({
      userId: "ev-1",
      decisionId: "ev-1",
      context: { timeOfDay: "Morning" },
      candidates: [
        { id: "NewsArticle", features: { type: "News" } },
        { id: "SportsArticle", features: { type: "Sports" } },
        { id: "EntertainmentArticle", features: { type: "Entertainment" } },
      ],
      slots: 1,
      exclude: ["SportsArticle"],
    });
  });

  it('takes action ids with inner spaces (Personalizer\'s quickstart ranks "ice cream"), rejects duplicates and padded ids', () => {
    const quickstart = { actions: [{ id: "pasta" }, { id: "ice cream" }, { id: "café au lait" }] };
    const rank = toLoopwiseRank(parsePersonalizer(personalizerRankSchema, quickstart), "e");
    expect(rank.candidates?.map((c) => c.id)).toEqual(["pasta", "ice cream", "café au lait"]);
    const dup = { actions: [{ id: "a" }, { id: "a" }] };
    expect(() => toLoopwiseRank(parsePersonalizer(personalizerRankSchema, dup), "e")).toThrow(/actions\[1\]\.id/);
    for (const id of [" a", "a ", "a\tb", "a\u2028b", "", "..", "x".repeat(129)]) {
      expect(() => parsePersonalizer(personalizerRankSchema, { actions: [{ id }] })).toThrow(/actions\[0\]\.id/);
    }
  });

  it("answers the chosen action first with its exact propensity, then the others, then the excluded at 0", () => {
    const record = {
      decisionId: "ev-1",
      candidates: [{ id: "NewsArticle" }, { id: "EntertainmentArticle" }, { id: "Other" }],
      slots: [
        { position: 0, itemId: "EntertainmentArticle", index: 1, propensity: 0.7, probabilities: [0.1, 0.7, 0.2] },
      ],
    } as unknown as DecisionRecord;
    const actions = [{ id: "NewsArticle" }, { id: "SportsArticle" }, { id: "EntertainmentArticle" }, { id: "Other" }];
    expect(toPersonalizerRanking(record, actions)).toEqual({
      ranking: [
        { id: "EntertainmentArticle", probability: 0.7 },
        { id: "Other", probability: 0.2 },
        { id: "NewsArticle", probability: 0.1 },
        { id: "SportsArticle", probability: 0 },
      ],
      eventId: "ev-1",
      rewardActionId: "EntertainmentArticle",
    });
  });
});

describe("multi-slot rank is one decision per slot", () => {
  it("puts the slot's id and features in its context, its baseline first, and excludes earlier choices", () => {
    const req = parsePersonalizer(personalizerMultiSlotRankSchema, fixture("multislot-rank.json").request);
    const [main, side] = slotRanks(req, "ev");
    const first = main?.rank([], 0);
    expect(first?.decisionId).toBe("ev:0");
    expect(first?.candidates?.[0]?.id).toBe("EntertainmentArticle");
    expect(first?.exclude).toEqual(["SportsArticle"]);
    expect(first?.context).toMatchObject({
      "slot.id": "Main Article",
      "slot.size": "Large",
      "user.profileType": "AnonymousUser",
    });
    const second = side?.rank(["EntertainmentArticle"], 1);
    expect(second?.decisionId).toBe("ev:1");
    expect(second?.candidates?.[0]?.id).toBe("NewsArticle");
    expect(second?.exclude).toEqual(["EntertainmentArticle"]);
    expect(second?.context?.["slot.size"]).toBe("Small");
  });

  it("rejects a baseline that is not an action and duplicate slot ids", () => {
    const req = parsePersonalizer(personalizerMultiSlotRankSchema, {
      actions: [{ id: "a" }],
      slots: [
        { id: "s", baselineAction: "zz" },
        { id: "s", baselineAction: "a" },
      ],
    });
    expect(() => slotRanks(req, "e")).toThrow(/slots\[0\]\.baselineAction.*slots\[1\]\.id/);
  });
});

describe("service configuration from Loopwise's settings", () => {
  it("writes durations as Personalizer v1.0 (.NET TimeSpan) and v1.1 (ISO 8601) do", () => {
    expect(timeSpan(10 * 60_000)).toBe("00:10:00");
    expect(timeSpan(26 * 3_600_000 + 5000)).toBe("1.02:00:05");
    expect(isoDuration(10 * 60_000)).toBe("PT10M");
    expect(isoDuration(0)).toBe("PT0S");
    expect(isoDuration(26 * 3_600_000)).toBe("P1DT2H");
  });

  it("reports ε of an epsilon-greedy default as the exploration percentage", () => {
    const base = { rewardWindowMs: 4 * 3_600_000, defaultReward: -0.5, aggregation: "sum" as const };
    const config = serviceConfiguration(
      { ...base, defaultPolicy: { type: "epsilon-greedy", params: { epsilon: 0.2 } } },
      "timespan",
    );
    expect(config).toMatchObject({
      rewardWaitTime: "04:00:00",
      defaultReward: -0.5,
      rewardAggregation: "sum",
      explorationPercentage: 0.2,
    });
    expect(serviceConfiguration({ ...base, defaultPolicy: { type: "thompson", params: {} } }, "iso")).toMatchObject({
      rewardWaitTime: "PT4H",
      explorationPercentage: 0,
    });
  });
});
