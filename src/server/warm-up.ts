import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { LoopwiseConfig } from "../app/config.js";
import { createEngine } from "../app/engine.js";
import { buildServer } from "./server.js";

/**
 * Warm-up before a server listens: synthetic rank, reward and event requests through the same code, on throwaway state.
 *
 * Why: a server's first requests ran cold code (V8 interprets a function until it has run often enough to be
 * compiled, and the rank path is hundreds of them: validation, features, the policy's pool draws and linear
 * algebra, the record encoder, the learning window's packer, the dashboard's fold). Under the soak's 16
 * connections the first requests took 300-1,100 ms. TensorFlow Serving's answer is the model's warm-up records,
 * replayed at load before the model is marked available (https://www.tensorflow.org/tfx/serving/saved_model_warmup);
 * this is the same, before `listen`, so a load balancer's first request already meets compiled code.
 *
 * Throwaway state: a second engine over a temporary data dir (the same adapters as the embedded default: SQLite
 * with its writer thread) and a server over it, both closed and the dir removed afterwards. Nothing of the real
 * engine is touched (its policy, log, metrics, dashboard, RNG streams: each decision's RNG is seeded by its own
 * id; server/warm-up.test.ts checks a warmed-up engine decides and logs exactly as a cold one). Shared stores
 * (Redis, PostgreSQL) are never opened: the copy of the config drops them. What stays is what should: V8's
 * compiled code and inline caches for the shared functions, and the process's memoizing caches of pure
 * functions (feature-name hashes).
 */
export interface WarmUpReport {
  /** Requests answered 200 (a failed one still ran code, but the report says what really went through). */
  ranks: number;
  rewards: number;
  events: number;
  ms: number;
}

/** Items in the throwaway catalog, and candidates per request (the realistic request's 100, issue 12). */
const ITEMS = 400;
const CANDIDATES = 100;
const SLOTS = 10;

/**
 * Runs `ranks` synthetic decisions (a reward for every fourth, a batch of events every tenth) through a throwaway
 * engine's HTTP routes: the three hot routes (issue 12).
 */
export async function warmUp(config: LoopwiseConfig, ranks: number): Promise<WarmUpReport> {
  const started = performance.now();
  if (ranks <= 0) return { ranks: 0, rewards: 0, events: 0, ms: 0 };
  const dir = mkdtempSync(join(tmpdir(), "loopwise-warm-up-"));
  const done = { ranks: 0, rewards: 0, events: 0 };
  try {
    const engine = await createEngine({ config: throwawayConfig(config, dir), logger: pino({ level: "silent" }) });
    try {
      const app = await buildServer(engine);
      try {
        const headers = { authorization: `Bearer ${engine.adminKey}`, "content-type": "application/json" };
        const send = (url: string, payload: Record<string, unknown>) =>
          app.inject({ method: "POST", url, headers, payload });
        await send("/v1/items", { items: warmUpItems() });
        for (let i = 0; i < ranks; i++) {
          if (i % 10 === 0) {
            const ingested = await send("/v1/events", warmUpEvents(i));
            if (ingested.statusCode === 200) done.events += (ingested.json() as { accepted: number }).accepted;
          }
          const res = await send("/v1/rank", warmUpRankBody(i));
          if (res.statusCode !== 200) continue;
          done.ranks++;
          if (i % 4 !== 0) continue;
          const { decisionId, ranking } = res.json() as { decisionId: string; ranking: { id: string }[] };
          const itemId = ranking[0]?.id;
          if (itemId === undefined) continue;
          const rewarded = await send(`/v1/decisions/${decisionId}/reward`, { itemId, value: 1 });
          if (rewarded.statusCode === 200) done.rewards++;
        }
      } finally {
        await app.close();
      }
    } finally {
      await engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { ...done, ms: Math.round(performance.now() - started) };
}

/** The config's policy and rank settings on a private embedded store: no shared store, key, rate limit or timer. */
export function throwawayConfig(config: LoopwiseConfig, dataDir: string): LoopwiseConfig {
  const { adminKey: _key, rateLimit: _limit, ...rest } = config;
  return {
    ...rest,
    dataDir,
    role: "all",
    auth: "keys",
    logLevel: "silent",
    storage: { ...config.storage, redisUrl: undefined, postgresUrl: undefined, redisCluster: false },
    warmUpRanks: 0,
  } as LoopwiseConfig;
}

function warmUpItems(): { id: string; category: string; price: number }[] {
  return Array.from({ length: ITEMS }, (_, i) => ({ id: `warm-${i}`, category: `c${i % 20}`, price: 5 + (i % 200) }));
}

const DEVICES = ["mobile", "desktop", "tablet"];

/** A batch of 20 views and a click by warm-up users (the events route and the feature store's writes). */
function warmUpEvents(i: number): Record<string, unknown> {
  const events: Record<string, unknown>[] = Array.from({ length: 20 }, (_, k) => ({
    type: "view",
    userId: `warm-user-${(i + k) % 50}`,
    itemId: `warm-${(i * 13 + k) % ITEMS}`,
    eventId: `warm-${i}-${k}`,
  }));
  events.push({ type: "click", userId: `warm-user-${i % 50}`, itemId: `warm-${i % ITEMS}`, eventId: `warm-${i}-c` });
  return { events };
}

/** The i-th warm-up request: a fresh user and context, 100 catalog candidates with two numeric features each. */
function warmUpRankBody(i: number): Record<string, unknown> {
  const start = (i * 37) % ITEMS;
  const candidates = Array.from({ length: CANDIDATES }, (_, k) => ({
    id: `warm-${(start + k) % ITEMS}`,
    features: { price: ((i + k) % 200) + 0.5, discount: ((i * 7 + k) % 50) / 100 },
  }));
  return {
    userId: `warm-user-${i}`,
    context: { device: DEVICES[i % DEVICES.length], visits: i % 40, segment: `s${i % 4}` },
    candidates,
    slots: SLOTS,
  };
}
