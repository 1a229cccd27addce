import { mkdtempSync, rmSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { createEngine } from "../../src/app/engine.js";
import { ManualClock } from "../../src/core/clock.js";
import { Xoshiro128 } from "../../src/core/rng.js";
import { inProcessRankBody, loadInProcessCatalog } from "./rank-requests.js";

/**
 * Where rank allocates (young garbage is GC time): V8's sampling heap profiler with collected objects kept,
 * over N ranks of `bench rank`'s requests, bytes per rank by allocating function (self) and by stack.
 *   node --import tsx bench/support/alloc-profile.ts [N]
 */
interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}
const n = Number(process.argv[2] ?? 2000);
const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
const rng = new Xoshiro128(7);
const dir = mkdtempSync(join(tmpdir(), "loopwise-alloc-"));
const engine = await createEngine({ dataDir: dir, clock, logger: pino({ level: "silent" }) });
await loadInProcessCatalog(engine, rng);
const run = async (from: number, count: number) => {
  for (let i = from; i < from + count; i++) {
    const res = await engine.rank(inProcessRankBody(rng, i));
    clock.advance(20);
    if (rng.next() < 0.1) await engine.reward(res.decisionId, { value: 1, itemId: res.ranking[0]!.id });
  }
};
await run(0, 500);
const session = new Session();
session.connect();
await session.post("HeapProfiler.startSampling", {
  samplingInterval: 512,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
} as never);
await run(500, n);
const { profile } = (await session.post("HeapProfiler.stopSampling")) as unknown as { profile: { head: Node } };
await engine.close();
rmSync(dir, { recursive: true, force: true });
const self = new Map<string, number>();
const label = (x: Node) =>
  `${x.callFrame.functionName || "(anon)"} ${x.callFrame.url.split("/").slice(-2).join("/")}:${x.callFrame.lineNumber}`;
const walk = (x: Node, path: string[]) => {
  const key = `${label(x)}  <  ${path.slice(-2).reverse().join(" < ")}`;
  self.set(key, (self.get(key) ?? 0) + x.selfSize);
  for (const c of x.children) walk(c, [...path, label(x)]);
};
walk(profile.head, []);
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log(`allocated ~${(total / n / 1024).toFixed(1)} KiB per rank (sampled)`);
for (const [k, b] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40))
  console.log(`${(b / n).toFixed(0).padStart(7)} B  ${k}`);
