import { pino } from "pino";
import { createEngine, joinConfigOf } from "../src/app/engine.js";
import { LearningLoop } from "../src/app/learning.js";
import type { PolicyProvider } from "../src/app/ports.js";
import type { Policy } from "../src/bandit/policy.js";
import { ManualClock } from "../src/core/clock.js";
import { loadBenchCatalog, realisticRankBody } from "./support/rank-requests.js";
import { exposedGc, settledHeap } from "./support/settled-heap.js";

/**
 * `npm run bench -- learning-memory [--windows=20000]`: what the learning loop's open reward windows really
 * hold on the heap, against its own estimate (`rewards.maxPendingBytes` is enforced on the estimate, so an
 * estimate far below the truth lets the heap outgrow the cap). Ranks N realistic requests (100 candidates × 2
 * features, 10 slots, a fresh user and context each: bench/support/rank-requests.ts) through the engine with the
 * default policy and the clock stopped, so every window stays open; forces a full GC and reads `heapUsed` plus `arrayBuffers`; then
 * closes every window and reads it again. The difference is the heap only the open windows kept alive (the
 * decision log is SQLite in memory, outside the V8 heap). The engine's learner is swapped for one whose policies
 * do not update: an update frees the policy's own per-epoch caches, which would be counted as the windows'.
 * Not a timing: it runs the same on a loaded machine.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const windows = Number(args.find((a) => a.startsWith("--windows="))?.slice(10) ?? 20_000);
  const gc = exposedGc();
  const clock = new ManualClock(Date.UTC(2026, 11, 6, 12));
  const engine = await createEngine({ dataDir: ":memory:", clock, logger: pino({ level: "silent" }) });
  await loadBenchCatalog(engine);
  const learning = new LearningLoop(
    joinConfigOf(engine.config),
    withoutUpdates(engine.parts.policies),
    engine.parts.metrics,
    engine.parts.logger,
  );
  engine.parts.learning = learning;
  for (let i = 0; i < windows; i++) await engine.rank(realisticRankBody(i, "learning-memory"));
  const held = learning.size;
  const estimated = learning.bytes;
  const withWindows = settledHeap(gc);
  learning.closeWindows(Number.POSITIVE_INFINITY);
  const withoutWindows = settledHeap(gc);
  await engine.close();
  const measured = withWindows - withoutWindows;
  const result = {
    windows: held,
    measuredBytes: measured,
    estimatedBytes: estimated,
    measuredPerWindow: Math.round(measured / held),
    estimatedPerWindow: Math.round(estimated / held),
    estimateOverMeasured: estimated / measured,
  };
  console.log(
    `${held} open windows: heap ${(measured / 2 ** 20).toFixed(1)} MiB measured, ${(estimated / 2 ** 20).toFixed(1)} MiB estimated (${result.measuredPerWindow} vs ${result.estimatedPerWindow} B a window; estimate/measured ${result.estimateOverMeasured.toFixed(2)})`,
  );
  return result;
}

/** The registry's policies (specs, profile selection) with updates that do nothing. */
function withoutUpdates(policies: PolicyProvider): PolicyProvider {
  const views = new Map<string, Policy>();
  return {
    get(id) {
      const policy = policies.get(id);
      if (!policy) return undefined;
      let view = views.get(id);
      if (!view) {
        view = Object.assign(Object.create(policy) as Policy, { update() {} });
        views.set(id, view);
      }
      return view;
    },
  };
}
