import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../app/config.js";
import { createEngine, type Engine } from "../app/engine.js";
import { throwawayConfig, warmUp } from "./warm-up.js";

const START = Date.parse("2026-03-01T12:00:00Z");

/** What an engine decided, logged, learned and counted for the same requests: everything a warm-up must not move. */
async function runTraffic(engine: Engine, clock: { t: number }): Promise<Record<string, unknown>> {
  const items = Array.from({ length: 30 }, (_, i) => ({ id: `item-${i}`, category: `c${i % 3}`, price: 10 + i }));
  await engine.upsertItems({ items });
  const ranked: unknown[] = [];
  for (let i = 0; i < 12; i++) {
    clock.t += 1000;
    const result = await engine.rank({
      decisionId: `dec-${i}`,
      userId: `u-${i % 4}`,
      context: { device: i % 2 ? "mobile" : "desktop", visits: i },
      candidates: items.slice(i, i + 12).map((it, k) => ({ id: it.id, features: { discount: (k % 5) / 10 } })),
      slots: 3,
    });
    ranked.push(result);
    const first = result.ranking[0]?.id;
    if (i % 2 === 0 && first) await engine.reward(`dec-${i}`, { itemId: first, value: 1 });
  }
  // Past the reward window: the windows close and the policy learns from them.
  clock.t += engine.config.rewards.window + 60_000;
  await engine.tick();
  const logged = await Promise.all(Array.from({ length: 12 }, (_, i) => engine.decisions.get(`dec-${i}`)));
  const metrics = (await engine.metrics.registry.metrics())
    .split("\n")
    .filter((line) => line.startsWith("loopwise_") && !/_seconds|_bytes|nodejs|process_/.test(line));
  return {
    ranked,
    logged,
    policy: engine.parts.policies.get("default")?.snapshot(),
    metrics,
  };
}

async function observe(withWarmUp: boolean): Promise<Record<string, unknown>> {
  const clock = { t: START };
  const engine = await createEngine({
    dataDir: ":memory:",
    clock: { now: () => clock.t },
    logger: pino({ level: "silent" }),
  });
  try {
    // As the server does: the engine is open, the warm-up runs, then traffic comes.
    if (withWarmUp) {
      // Every synthetic request went through: the warm-up ran the real routes, not their error paths.
      const report = await warmUp(engine.config, 40);
      expect(report).toMatchObject({ ranks: 40, rewards: 10, events: 84 });
    }
    return await runTraffic(engine, clock);
  } finally {
    await engine.close();
  }
}

describe("warm-up before listening", () => {
  it("leaves the engine deciding, logging, learning and counting exactly as a cold one", async () => {
    const cold = await observe(false);
    const warmed = await observe(true);
    expect((cold.metrics as string[]).length).toBeGreaterThan(5);
    expect(cold.policy).toBeDefined();
    expect(warmed).toEqual(cold);
  }, 30_000);

  it("runs on a private temporary store, removed afterwards, never on the configured shared stores", async () => {
    const config = parseConfig({
      dataDir: "/nonexistent/real-data",
      adminKey: "a-real-admin-key-0123456789",
      rateLimit: { max: 1 },
      storage: { redisUrl: "redis://127.0.0.1:1", postgresUrl: "postgres://nobody@127.0.0.1:1/x" },
    });
    const copy = throwawayConfig(config, "/tmp/x");
    expect(copy.dataDir).toBe("/tmp/x");
    expect(copy.storage.redisUrl).toBeUndefined();
    expect(copy.storage.postgresUrl).toBeUndefined();
    expect(copy.adminKey).toBeUndefined();
    expect(copy.rateLimit).toBeUndefined();
    expect(copy.warmUpRanks).toBe(0);
    const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith("loopwise-warm-up-")));
    // With Redis and PostgreSQL configured on unreachable ports, it still runs: it never opens them.
    expect((await warmUp(config, 2)).ranks).toBe(2);
    const left = readdirSync(tmpdir()).filter((f) => f.startsWith("loopwise-warm-up-") && !before.has(f));
    expect(left).toEqual([]);
    expect(existsSync("/nonexistent/real-data")).toBe(false);
  }, 30_000);

  it("does nothing when turned off", async () => {
    expect(await warmUp(parseConfig({ warmUpRanks: 0 }), 0)).toEqual({ ranks: 0, rewards: 0, events: 0, ms: 0 });
  });
});
