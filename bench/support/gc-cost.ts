/**
 * What the long-lived state costs the garbage collector, independent of the machine's load: the soak's traffic
 * in process (no HTTP), then, with what it holds live (open learning windows, the dashboard's tracked decisions
 * and sessions), the heap's object and pointer counts (a heap snapshot's header) and the CPU time of full GCs.
 * Mark time scales with objects and pointers, so the counts are the stable figure; the timed GCs run with
 * `--single-threaded-gc` so a loaded machine's helper threads do not blur them. `--root=` runs another
 * checkout's engine (A/B: run base and this tree alternately):
 *   node --expose-gc --single-threaded-gc --import tsx bench/support/gc-cost.ts --n=30000 [--root=/tmp/base-s23]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { getHeapSnapshot } from "node:v8";
import { pino } from "pino";
import { loadBenchCatalog, realisticRankBody } from "./rank-requests.js";

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const n = Number(arg("n") ?? 30_000);
const root = resolve(arg("root") ?? new URL("../..", import.meta.url).pathname);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");

const { createEngine } = (await import(`${root}/src/app/engine.js`)) as typeof import("../../src/app/engine.js");
const { subscribeActivity } = (await import(
  `${root}/src/dashboard/subscribe-activity.js`
)) as typeof import("../../src/dashboard/subscribe-activity.js");
const dir = mkdtempSync(join(tmpdir(), "loopwise-gc-cost-"));
const engine = await createEngine({ dataDir: dir, logger: pino({ level: "warn" }) });
engine.start();
subscribeActivity(engine.parts); // the dashboard's activity view, as the server subscribes it
await loadBenchCatalog(engine);
const cpu0 = process.cpuUsage();
const inflight: Promise<unknown>[] = [];
for (let i = 0; i < n; i++) {
  inflight.push(engine.rank(realisticRankBody(i, "soak")));
  if (inflight.length >= 16) await Promise.all(inflight.splice(0));
}
await Promise.all(inflight);
const cpu = process.cpuUsage(cpu0);
for (let i = 0; i < 3; i++) gc();
// CPU time, not wall: on a loaded machine a collection's wall time is mostly waiting for a core.
const fullGcMs: number[] = [];
for (let i = 0; i < 5; i++) {
  const before = process.cpuUsage();
  gc();
  const used = process.cpuUsage(before);
  fullGcMs.push((used.user + used.system) / 1000);
}
fullGcMs.sort((a, b) => a - b);
const { heapUsed, arrayBuffers } = process.memoryUsage();
const counts = await snapshotCounts();
console.log(
  JSON.stringify({
    root,
    n,
    learningWindows: engine.parts.learning.size,
    heapObjects: counts.nodes,
    heapPointers: counts.edges,
    heapUsedMiB: Math.round(heapUsed / 1048576),
    arrayBuffersMiB: Math.round(arrayBuffers / 1048576),
    fullGcCpuMedianMs: Math.round(fullGcMs[2]! * 10) / 10,
    fullGcCpuMinMs: Math.round(fullGcMs[0]! * 10) / 10,
    cpuUsPerRank: Math.round((cpu.user + cpu.system) / n),
  }),
);
await engine.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);

/** Node and edge counts from a heap snapshot's header (the rest of the stream is not read). */
async function snapshotCounts(): Promise<{ nodes: number; edges: number }> {
  const stream = getHeapSnapshot();
  let head = "";
  for await (const chunk of stream) {
    head += chunk;
    const m = /"node_count":(\d+),"edge_count":(\d+)/.exec(head);
    if (m) {
      stream.destroy();
      return { nodes: Number(m[1]), edges: Number(m[2]) };
    }
  }
  throw new Error("no node_count in the heap snapshot");
}
