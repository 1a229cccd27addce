import { pino } from "pino";
import { createEngine } from "../src/app/engine.js";
import { ManualClock } from "../src/core/clock.js";
import { loadBenchCatalog, realisticRankBody } from "./support/rank-requests.js";
import { exposedGc, settledHeap } from "./support/settled-heap.js";

const DAY = 24 * 3_600_000;

/**
 * `npm run bench -- dashboard-memory [--decisions=20000]`: the heap the dashboard's per-minute fold
 * (app/minute-aggregates.ts) keeps per decision it tracks for attribution (the decision's slots and series, its
 * session), with realistic traffic: a fresh user and context per request (bench/support/rank-requests.ts), so
 * every decision also opens a session. Ranks N requests through the engine with the clock stopped, forces a
 * full GC and reads the heap; then flushes the fold a month later (everything past the reward horizon and the
 * session TTL is forgotten) and reads it again. The difference is what only the fold kept alive. Not a
 * timing: it runs the same on a loaded machine.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const decisions = Number(args.find((a) => a.startsWith("--decisions="))?.slice(12) ?? 20_000);
  const gc = exposedGc();
  const clock = new ManualClock(Date.UTC(2026, 11, 6, 12));
  const engine = await createEngine({ dataDir: ":memory:", clock, logger: pino({ level: "silent" }) });
  await loadBenchCatalog(engine);
  const dashboard = engine.parts.dashboard;
  if (!dashboard) throw new Error("the engine has no dashboard duties");
  for (let i = 0; i < decisions; i++) await engine.rank(realisticRankBody(i, "dashboard-memory"));
  const tracking = settledHeap(gc);
  await dashboard.flush(clock.now() + 30 * DAY);
  const forgotten = settledHeap(gc);
  await engine.close();
  const perDecision = Math.round((tracking - forgotten) / decisions);
  console.log(
    `${decisions} tracked decisions (each its own session): the fold holds ${((tracking - forgotten) / 2 ** 20).toFixed(1)} MiB, ${perDecision} B a decision`,
  );
  return { decisions, heldBytes: tracking - forgotten, perDecision };
}
