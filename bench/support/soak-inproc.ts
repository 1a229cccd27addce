/**
 * Diagnosis: the soak's traffic in process (no HTTP), printing every `--every` ranks the rate and where the
 * memory is, with live sizes measured after a full GC (run with --expose-gc).
 *   node --expose-gc --import tsx bench/support/soak-inproc.ts --n=60000
 * `--max-pending-mib=M` caps the learning windows (rewards.maxPendingBytes) so they close early and the policy
 * learns within the run: what learning adds to the memory (the arms' posteriors).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { createEngine } from "../../src/app/engine.js";
import { subscribeActivity } from "../../src/dashboard/subscribe-activity.js";
import { loadBenchCatalog, realisticRankBody } from "./rank-requests.js";

const arg = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const n = arg("n", 60_000);
const every = arg("every", 5000);
const maxPendingMiB = arg("max-pending-mib", 0);
const dir = mkdtempSync(join(tmpdir(), "loopwise-soak-inproc-"));
const engine = await createEngine({
  dataDir: dir,
  logger: pino({ level: "warn" }),
  ...(maxPendingMiB > 0 ? { config: { rewards: { maxPendingBytes: maxPendingMiB * 1048576 } } } : {}),
});
engine.metrics.withProcessMetrics();
engine.start();
const activity = subscribeActivity(engine.parts);
await loadBenchCatalog(engine); // what the realistic rank requests draw from
const MiB = (x: number) => Math.round(x / 1048576);
const gc = (globalThis as { gc?: () => void }).gc;
let t0 = performance.now();
const inflight: Promise<unknown>[] = [];
for (let i = 0; i < n; i++) {
  inflight.push(engine.rank(realisticRankBody(i, "soak")));
  if (inflight.length >= 16) await Promise.all(inflight.splice(0));
  if ((i + 1) % every === 0) {
    await Promise.all(inflight.splice(0));
    const rate = every / ((performance.now() - t0) / 1000);
    const before = process.memoryUsage();
    gc?.();
    const m = process.memoryUsage();
    console.log(
      JSON.stringify({
        i: i + 1,
        rate: Math.round(rate),
        rss: MiB(m.rss),
        heapTotal: MiB(m.heapTotal),
        heapUsedBeforeGc: MiB(before.heapUsed),
        liveHeap: MiB(m.heapUsed),
        external: MiB(m.external),
        arrayBuffers: MiB(m.arrayBuffers),
        learning: { windows: engine.parts.learning.size, MiB: MiB(engine.parts.learning.bytes) },
      }),
    );
    t0 = performance.now();
  }
}
// What each holder keeps alive: live heap (+ array buffers) before and after emptying it.
const live = () => {
  for (let k = 0; k < 3; k++) gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const holders: [string, () => void][] = [
  ["learning windows", () => engine.parts.learning.closeWindows(Number.POSITIVE_INFINITY)],
  ["dashboard activity (tracked decisions)", () => emptyAll((activity as unknown as { tracked: Keyed }).tracked)],
  [
    "dashboard minute aggregates (tracked decisions, sessions)",
    () => {
      const aggregates = engine.parts.dashboard?.aggregates as unknown as { fold: Record<string, Keyed> } | undefined;
      for (const name of ["decisions", "sessions", "latestSession"]) {
        const holder = aggregates?.fold[name];
        if (holder) emptyAll(holder);
      }
    },
  ],
];
/** A Map, or a column table (app/tracked-decisions.ts, minute-sessions.ts): what the holders above are. */
interface Keyed {
  keys(): IterableIterator<string>;
  delete(key: string): unknown;
}
function emptyAll(holder: Keyed): void {
  for (const key of [...holder.keys()]) holder.delete(key);
}
for (const [name, empty] of holders) {
  const before = live();
  empty();
  console.log(`${name}: ${((before - live()) / n).toFixed(0)} B a decision`);
}
await engine.close();
rmSync(dir, { recursive: true, force: true });
