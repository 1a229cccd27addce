import { describe, expect, it } from "vitest";
import { DAY, HOUR } from "../../core/clock.js";
import { isLoopwiseError } from "../../core/errors.js";
import { normal, rngFor } from "../../core/rng.js";
import type { SimItem } from "./catalog.js";
import { drawVisitor, type SimUser, userItemNoise } from "./population.js";
import { builtinScenarios, resolveScenario } from "./scenarios.js";
import { nextArrival, pairedCandidates, randomCandidates } from "./traffic.js";
import { expectedClicks, oracleSlate, popularityScores, referenceValues, uniformExpectedClicks } from "./truth.js";
import { World } from "./world.js";

const T0 = Date.UTC(2026, 0, 5);

describe("scenario", () => {
  it("fills every default from {} and resolves every built-in", () => {
    const s = resolveScenario({});
    expect(s.catalog.items).toBe(200);
    expect(s.sessions.slots).toBe(4);
    for (const name of Object.keys(builtinScenarios)) expect(resolveScenario(name).name).toBe(name);
    expect(resolveScenario("rollout-bad").rollout?.ctrRatio).toBe(0.9);
  });

  it("names the bad field and the unknown scenario", () => {
    try {
      resolveScenario({ catalog: { items: -3 } });
      expect.unreachable();
    } catch (e) {
      expect(isLoopwiseError(e) && e.errors?.[0]?.path).toBe("scenario.catalog.items");
    }
    expect(() => resolveScenario("nope")).toThrow(/unknown scenario "nope"/);
    // A misspelt parameter would otherwise simulate the default shop without a word.
    expect(() => resolveScenario({ sesions: { perDay: 100 } } as object)).toThrow(
      'scenario.sesions: unknown setting "sesions" (did you mean "sessions"?)',
    );
    expect(() => resolveScenario("default", { catalog: { itemz: 50 } } as object)).toThrow(
      /scenario\.catalog\.itemz: unknown setting "itemz" \(did you mean "items"\?\)/,
    );
  });

  it("applies overrides deeply", () => {
    const s = resolveScenario("default", { seed: 7, sessions: { perDay: 50 } });
    expect([s.seed, s.sessions.perDay, s.sessions.slots]).toEqual([7, 50, 4]);
  });
});

describe("world", () => {
  const world = new World(resolveScenario("default"));

  it("computes every attractiveness bit for bit as the model's formula, whatever the order of the questions", () => {
    // The formula as written before the per-item tables and the per-page memo: runs must not change.
    const drifting = new World(resolveScenario("default", { clicks: { drift: 0.3 } }));
    for (const w of [world, drifting]) {
      const c = w.scenario.clicks;
      const rng = rngFor("test-formula", "1");
      for (let n = 0; n < 300; n++) {
        const user = w.users[Math.floor(rng.next() * w.users.length)] as SimUser;
        const item = w.items[Math.floor(rng.next() * w.items.length)] as SimItem;
        const time = T0 + Math.floor(rng.next() * 14 * DAY);
        const ctx = w.contextFor(user, time, rng);
        const peak = w.catalog.categoryPeakHour[item.category] as number;
        const phase = (w.population.driftPhase[user.segment] as Float64Array)[item.category] as number;
        const drift = c.drift === 0 ? 0 : c.drift * Math.sin((2 * Math.PI * time) / (7 * DAY) + phase);
        const sensitivity = user.priceSensitivity + (ctx.device === "mobile" ? 0.3 : 0);
        const logit =
          c.baseLogit +
          c.popularityWeight * item.popularityZ +
          (user.affinity[item.category] as number) +
          drift +
          c.hourAmplitude * Math.cos((2 * Math.PI * (ctx.hour - peak)) / 24) +
          -sensitivity * Math.log(item.price / w.catalog.medianPrice);
        const noise = userItemNoise(w.scenario.seed, user.index, w.items.length, c.noiseSd)[item.index] as number;
        const expected = 1 / (1 + Math.exp(-(logit + noise)));
        expect(w.attractiveness(user, ctx, item)).toBe(expected);
        expect(w.attractiveness(user, ctx, item)).toBe(expected); // memoized: the same value again
      }
    }
  });

  it("gives the whole catalog's attractiveness at once, bit for bit as item by item (on a half-filled memo too)", () => {
    const drifting = new World(resolveScenario("default", { clicks: { drift: 0.3 } }));
    for (const w of [world, drifting]) {
      const rng = rngFor("test-all", "1");
      for (let n = 0; n < 20; n++) {
        const user = w.users[Math.floor(rng.next() * w.users.length)] as SimUser;
        const ctx = w.contextFor(user, T0 + Math.floor(rng.next() * 14 * DAY), rng);
        const asked = w.items[n % w.items.length] as SimItem;
        const one = w.attractiveness(user, ctx, asked); // memo holds one value before the whole row
        const all = Array.from(w.attractivenessOfAll(user, ctx));
        expect(all[asked.index]).toBe(one);
        // A fresh world answers item by item from its own formula path.
        const fresh = new World(w.scenario);
        expect(all).toEqual(w.items.map((item) => fresh.attractiveness(user, ctx, item)));
      }
    }
  });

  it("draws a user's item noise as consecutive normal() draws of the user's own stream", () => {
    for (let u = 0; u < 50; u++) {
      const rng = rngFor("sim-user-item", `42:${u}`);
      const expected = Array.from({ length: 200 }, () => Math.fround(0.3 * normal(rng)));
      expect(Array.from(userItemNoise(42, u, 200, 0.3))).toEqual(expected);
    }
  });

  it("is a pure function of the seed", () => {
    const again = new World(resolveScenario("default"));
    expect(again.items.map((i) => i.price)).toEqual(world.items.map((i) => i.price));
    const u = world.users[17]!;
    const ctx = world.contextFor(u, T0, rngFor("t", "1"));
    const item = world.items[3]!;
    expect(again.clickProbability(again.users[17]!, ctx, again.items[3]!, 2)).toBe(
      world.clickProbability(u, ctx, item, 2),
    );
    const other = new World(resolveScenario("default", { seed: 43 }));
    expect(other.items.map((i) => i.price)).not.toEqual(world.items.map((i) => i.price));
  });

  it("gives probabilities in [0, 1] and examination decreasing with position", () => {
    const rng = rngFor("t", "2");
    for (let n = 0; n < 200; n++) {
      const u = world.users[Math.floor(rng.next() * world.users.length)]!;
      const ctx = world.contextFor(u, T0 + n * 3_600_000, rng);
      const item = world.items[Math.floor(rng.next() * world.items.length)]!;
      for (const p of [world.clickProbability(u, ctx, item, 0), world.purchaseProbability(u, ctx, item)]) {
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(1);
      }
      expect(world.clickProbability(u, ctx, item, 3)).toBeLessThan(world.clickProbability(u, ctx, item, 0));
    }
    expect(world.examination(0)).toBe(1);
    expect(world.examination(1)).toBeCloseTo(0.5, 12);
  });

  it("never puts the user's latent tastes in the request context", () => {
    const ctx = world.contextFor(world.users[0]!, T0, rngFor("t", "3"));
    expect(Object.keys(world.requestContext(ctx)).sort()).toEqual(["daypart", "device", "segment"]);
  });

  it("makes the oracle clearly beat popularity, and popularity beat uniform", () => {
    const pop = popularityScores(world, 1000);
    const rng = rngFor("t", "4");
    const sum = { oracle: 0, popularity: 0, uniform: 0 };
    for (let n = 0; n < 400; n++) {
      const hour = Math.floor(rng.next() * 24);
      const user = drawVisitor(world.population, hour, 1.5, rng);
      const ctx = world.contextFor(user, T0 + hour * 3_600_000, rng);
      const candidates = randomCandidates(world, 20, rng);
      const r = referenceValues(world, pop, user, ctx, candidates, 4);
      expect(r.oracle).toBeGreaterThanOrEqual(r.popularity - 1e-12);
      sum.oracle += r.oracle;
      sum.popularity += r.popularity;
      sum.uniform += r.uniform;
    }
    expect(sum.oracle / sum.popularity).toBeGreaterThan(1.2);
    expect(sum.popularity / sum.uniform).toBeGreaterThan(1.5);
  });

  it("computes the uniform value exactly (checked against enumerating every one-slot choice)", () => {
    const rng = rngFor("t", "5");
    const user = world.users[5]!;
    const ctx = world.contextFor(user, T0, rng);
    const candidates = randomCandidates(world, 6, rng);
    const byHand = candidates.reduce((a, c) => a + expectedClicks(world, user, ctx, [c]), 0) / candidates.length;
    expect(uniformExpectedClicks(world, user, ctx, candidates, 1)).toBeCloseTo(byHand, 12);
    const best = oracleSlate(world, user, ctx, candidates, 1)[0]!;
    for (const c of candidates) {
      expect(world.attractiveness(user, ctx, best)).toBeGreaterThanOrEqual(world.attractiveness(user, ctx, c));
    }
  });

  it("builds paired candidates whose uniform choice has the set CTR ratio", () => {
    const rng = rngFor("t", "6");
    let baseline = 0;
    let uniform = 0;
    for (let n = 0; n < 300; n++) {
      const user = world.users[n]!;
      const ctx = world.contextFor(user, T0, rng);
      const [a, b] = pairedCandidates(world, user, ctx, 0.9, rng);
      baseline += world.attractiveness(user, ctx, a!);
      uniform += (world.attractiveness(user, ctx, a!) + world.attractiveness(user, ctx, b!)) / 2;
    }
    expect(uniform / baseline).toBeGreaterThan(0.88);
    expect(uniform / baseline).toBeLessThan(0.92);
  });

  it("arrives at the configured rate per day", () => {
    const rng = rngFor("t", "7");
    let t = T0;
    let count = 0;
    for (;;) {
      t = nextArrival(t, 400, rng);
      if (t >= T0 + 20 * DAY) break;
      count++;
    }
    expect(count / 20).toBeGreaterThan(380);
    expect(count / 20).toBeLessThan(420);
  });

  it("arrives at a flat rate when not shaped by the hour (real time): as many at night as in the evening", () => {
    const countIn = (from: number, daily: boolean) => {
      const rng = rngFor("t", "8");
      let count = 0;
      for (
        let t = nextArrival(from, 86_400 * 5, rng, daily);
        t < from + HOUR;
        t = nextArrival(t, 86_400 * 5, rng, daily)
      )
        count++;
      return count;
    };
    const night = T0 + 5 * HOUR; // 05:00 UTC, the shape's trough side (×0.58)
    const evening = night + 15 * HOUR; // 20:00, its peak (×1.6)
    expect(countIn(night, false) / 3600).toBeCloseTo(5, 0); // 18,000 expected; sd 134
    expect(countIn(evening, false) / 3600).toBeCloseTo(5, 0);
    expect(countIn(night, true) / countIn(evening, true)).toBeLessThan(0.45); // 0.58/1.6 = 0.36
  });
});
