import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchServer, load, loopStats, startBenchServer } from "./support/autocannon-run.js";
import { loadProfile } from "./support/cpu-profile.js";
import { realisticRankBody } from "./support/rank-requests.js";
import { attribute, byCause, type SlowRequest, slowRequestCauses } from "./support/stall-causes.js";
import type { ProbeGc, ProbeStall } from "./support/stall-probe.js";

/**
 * `npm run bench -- stalls [--ab=BASE_TREE] [--rounds=2] [--rates=500,1000] [--duration=20] [--prime=10]
 * [--saturate=0] [--profile [--keep]] [--uniform]`: the latency tail at fixed offered rates (issue 12: p99 <= 10 ms,
 * nothing over 100 ms) and what made it. Each round starts a server of each tree in turn (base first, then this
 * one: interleaved rounds), primes it at saturation for --prime seconds (the state `bench http` reaches before its fixed rates),
 * offers each rate for --duration seconds, paced open loop (support/paced-load.ts: 4 connections to start, more as
 * requests fall due while others are in flight), (and, with --saturate=S, S seconds at 16 connections:
 * a short soak), then stops it. Per tree and rate: the client's p50/p99/max and requests over 10/50/100 ms; the
 * server's rank and log append (loop-stats.ts); and every event-loop block over 10 ms (stall-probe.ts, preloaded
 * into both trees' servers) with its main-thread CPU, by cause (stall-causes.ts: from the CPU profile with
 * --profile, which costs some CPU; else GC or the run queue only). A block with CPU far below its length is the
 * machine (other engineers' load), not our code. Requests over 50 ms are matched to the blocks inside them
 * (stall-causes.ts `slowRequestCauses`); those with none waited on their log append or in the queue. This
 * tree's server also closes its engine at the end so the log writer's trace (LOOPWISE_WRITER_TRACE) gives its
 * holds by kind, those over 5 ms split into CPU and run-queue time; the trace includes the start-up warm-up's
 * throwaway writer (a few hundred ops). `--rates=` with `--saturate=S` runs the short soak alone;
 * `--node-flag=X` passes flags to the servers' node (`--trace-gc` lines go to gc.txt with --keep); `--uniform` ranks
 * with the uniform policy (the tail without the bandit's cost, as `bench http`'s `rankUniformAtRate`).
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string, dflt: number) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const rates = (args.find((a) => a.startsWith("--rates="))?.slice(8) ?? "500,1000")
    .split(",")
    .filter((r) => r !== "")
    .map(Number);
  const base = args.find((a) => a.startsWith("--ab="))?.slice(5);
  const options: CaseOptions = {
    rates,
    duration: flag("duration", 20),
    prime: flag("prime", 10),
    saturate: flag("saturate", 0),
    profile: args.includes("--profile"),
    keep: args.includes("--keep"),
    uniform: args.includes("--uniform"),
    nodeFlags: args.filter((a) => a.startsWith("--node-flag=")).map((a) => a.slice("--node-flag=".length)),
  };
  const trees: [string, string | undefined][] = base
    ? [
        ["base", resolve(base, "bench/support/server-child.ts")],
        ["this", undefined],
      ]
    : [["this", undefined]];
  const results: Record<string, TreeRun[]> = {};
  for (let round = 0; round < flag("rounds", base ? 2 : 1); round++) {
    for (const [name, script] of trees) {
      console.log(`round ${round + 1}, ${name}:`);
      const r = await oneServer(script, options);
      results[name] = [...(results[name] ?? []), r];
    }
  }
  return { options, results };
}

interface CaseOptions {
  rates: number[];
  duration: number;
  prime: number;
  saturate: number;
  profile: boolean;
  /** Keep the server's CPU profile and a stalls.txt for profile-window.ts instead of removing them. */
  keep: boolean;
  /** Rank with the uniform policy (bench-uniform): the tail without the bandit's cost. */
  uniform: boolean;
  /** `--node-flag=X` (repeatable): flags for the servers' node (e.g. --trace-gc, whose lines go to gc.txt with --keep). */
  nodeFlags: string[];
}

interface CaseFigures {
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  over10: number;
  over50: number;
  over100: number;
  server: Record<string, unknown>;
  /** Requests over SLOW_MS, for naming what they waited for (stall-causes.ts `slowRequestCauses`). */
  slow: SlowRequest[];
}

/** Requests slower than this are matched to the event-loop blocks they overlapped. */
const SLOW_MS = 50;

interface TreeRun {
  cases: Record<string, CaseFigures>;
  blocks: ReturnType<typeof byCause>;
  blocksOver50: ReturnType<typeof byCause>;
  /** Per case, requests over SLOW_MS by what they waited for. */
  slowRequests: Record<string, Record<string, number>>;
  writerHolds?: Record<string, number[]>;
  gcPauses: Record<string, number[]>;
}

function gcByKind(gcs: readonly ProbeGc[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const g of gcs) {
    const [n, over10, max, total] = out[g.kind] ?? [0, 0, 0, 0];
    out[g.kind] = [
      (n ?? 0) + 1,
      (over10 ?? 0) + (g.ms > 10 ? 1 : 0),
      Math.max(max ?? 0, Math.round(g.ms)),
      (total ?? 0) + g.ms,
    ];
  }
  for (const row of Object.values(out)) row[3] = Math.round(row[3] as number);
  return out;
}

/** The writer thread's holds by kind (writer-trace.ts), when its server wrote them: [count, > 5 ms, > 10 ms, max]. */
function writerHoldsOver(dir: string): Record<string, number[]> | undefined {
  if (!existsSync(dir)) return undefined;
  const out: Record<string, number[]> = {};
  for (const file of readdirSync(dir)) {
    const spans = JSON.parse(readFileSync(join(dir, file), "utf8")) as Record<string, number[]>;
    for (const [kind, ms] of Object.entries(spans)) {
      if (kind.startsWith("long:")) {
        // Holds over 5 ms (writer-trace.ts): [count, total ms, thread CPU ms, run-queue ms].
        const [, k, part] = kind.split(":");
        if (part === "at") continue; // when each ended, not a duration
        const key = `${k} > 5 ms (n, ms, cpu, runq)`;
        const row = out[key] ?? [0, 0, 0, 0];
        const sum = Math.round(ms.reduce((a, b) => a + b, 0));
        if (part === "ms") row[0] = (row[0] ?? 0) + ms.length;
        row[part === "ms" ? 1 : part === "cpu" ? 2 : 3] = (row[part === "ms" ? 1 : part === "cpu" ? 2 : 3] ?? 0) + sum;
        out[key] = row;
        continue;
      }
      const [n, over5, over10, max] = out[kind] ?? [0, 0, 0, 0];
      out[kind] = [
        (n ?? 0) + ms.length,
        (over5 ?? 0) + ms.filter((x) => x > 5).length,
        (over10 ?? 0) + ms.filter((x) => x > 10).length,
        Math.round(Math.max(max ?? 0, ...ms)),
      ];
    }
  }
  return out;
}

async function oneServer(script: string | undefined, o: CaseOptions): Promise<TreeRun> {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-stalls-"));
  const stallFile = join(dir, "stalls.json");
  const probe = fileURLToPath(new URL("./support/stall-probe.ts", import.meta.url));
  const profiling = o.profile ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
  const server = await startBenchServer(
    "loopwise",
    script,
    [...profiling, ...o.nodeFlags, "--import", "tsx", "--import", probe],
    {
      LOOPWISE_BENCH_STALL_FILE: stallFile,
      LOOPWISE_BENCH_LOOPSTATS: "1",
      LOOPWISE_WRITER_TRACE: join(dir, "writer"), // this tree's server closes its engine at SIGTERM to write it
      ...(o.uniform ? { LOOPWISE_BENCH_UNIFORM: "1" } : {}),
    },
  );
  const cases: Record<string, CaseFigures> = {};
  const traceGc: string[] = [];
  server.child.stdout?.on("data", (d: Buffer) => {
    for (const line of d.toString().split("\n")) if (/^\[\d+:0x/.test(line)) traceGc.push(line);
  });
  try {
    if (o.prime > 0) await load(server.url, "/v1/rank", rankBodies("prime", o), withKey(server, 16, o.prime));
    for (const rate of o.rates)
      cases[`${rate}/s`] = await oneCase(server, `rate${rate}`, o, withKey(server, 4, o.duration, rate));
    if (o.saturate > 0) cases.saturated = await oneCase(server, "sat", o, withKey(server, 16, o.saturate));
  } finally {
    await stop(server);
  }
  const probed = JSON.parse(readFileSync(stallFile, "utf8")) as { stalls: ProbeStall[]; gcs: ProbeGc[] };
  // The main thread's (thread id 0): worker threads write profiles of their own.
  const profileFile = readdirSync(dir).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  const attributed = attribute(
    probed.stalls,
    probed.gcs,
    profileFile ? loadProfile(join(dir, profileFile)) : undefined,
  );
  // Read before the folder is removed (without --keep): the trace is in it.
  const writerHolds = writerHoldsOver(join(dir, "writer"));
  if (o.keep) {
    // For bench/support/profile-window.ts: what ran inside each block, frame by frame.
    const lines = attributed.map(
      (s) => `STALL ${s.cause.replace(/\s+/g, "_")} ${Math.round(s.ms)} ms @${s.endUs} cpu ${s.cpuMs.toFixed(1)}`,
    );
    writeFileSync(join(dir, "stalls.txt"), `${lines.join("\n")}\n`);
    writeFileSync(join(dir, "gc.txt"), `${traceGc.join("\n")}\n`);
    console.log(`  kept ${dir} (stalls.txt, the CPU profile)`);
  } else rmSync(dir, { recursive: true, force: true });
  if (writerHolds)
    console.log(`  log writer holds (count, over 5 ms, over 10 ms, max ms) by kind: ${JSON.stringify(writerHolds)}`);
  const gcPauses = gcByKind(probed.gcs);
  console.log(`  GC pauses >= 2 ms by kind (count, over 10 ms, max, total ms): ${JSON.stringify(gcPauses)}`);
  const slowRequests: Record<string, Record<string, number>> = {};
  for (const [name, c] of Object.entries(cases)) {
    slowRequests[name] = slowRequestCauses(c.slow, attributed);
    c.slow = [];
  }
  const run: TreeRun = {
    cases,
    blocks: byCause(attributed),
    blocksOver50: byCause(attributed.filter((s) => s.ms > 50)),
    slowRequests,
    gcPauses,
    ...(writerHolds ? { writerHolds } : {}),
  };
  console.log("  event-loop blocks > 10 ms by cause (count, total ms, max ms, main-thread CPU ms):");
  for (const [cause, v] of Object.entries(run.blocks))
    console.log(`    ${cause.padEnd(36)} ${v.count} ${v.totalMs} ${v.maxMs} ${v.cpuMs}`);
  console.log(`  requests over ${SLOW_MS} ms by what they waited for: ${JSON.stringify(slowRequests)}`);
  return run;
}

function withKey(server: BenchServer, connections: number, duration: number, overallRate?: number) {
  return { connections, duration, apiKey: server.apiKey, ...(overallRate ? { overallRate } : {}) };
}

/** The realistic rank's bodies for one run, with the uniform policy's id under `--uniform`. */
function rankBodies(run: string, o: CaseOptions): (i: number) => unknown {
  return o.uniform
    ? (i) => ({ ...realisticRankBody(i, run), policyId: "bench-uniform" })
    : (i) => realisticRankBody(i, run);
}

async function oneCase(
  server: BenchServer,
  run: string,
  o: CaseOptions,
  options: ReturnType<typeof withKey>,
): Promise<CaseFigures> {
  const bodies = rankBodies(run, o);
  await loopStats(server); // starts the server's interval
  const latencies: number[] = [];
  const slow: SlowRequest[] = [];
  const figures = await load(server.url, "/v1/rank", bodies, {
    ...options,
    onResponse: (ms) => {
      latencies.push(ms);
      // On the monotonic clock the server's probe uses (CLOCK_MONOTONIC is one clock for every process).
      if (ms > SLOW_MS) slow.push({ endUs: Number(process.hrtime.bigint() / 1000n), ms });
    },
  });
  const serverView = await loopStats(server);
  const over = (ms: number) => latencies.filter((x) => x > ms).length;
  const out = {
    requests: latencies.length,
    p50Ms: figures.p50Ms,
    p99Ms: figures.p99Ms,
    maxMs: figures.maxMs,
    over10: over(10),
    over50: over(50),
    over100: over(100),
    server: serverView,
    slow,
  };
  const { rankMs, appendMs, loopDelayMs } = serverView as Record<string, { p99: number; max: number }>;
  console.log(
    `  ${run}: ${out.requests} requests, p50 ${out.p50Ms} p99 ${out.p99Ms} max ${out.maxMs} ms; >10 ms ${out.over10}, >50 ${out.over50}, >100 ${out.over100}; server rank p99 ${rankMs?.p99} max ${rankMs?.max}, append p99 ${appendMs?.p99} max ${appendMs?.max}, loop delay max ${loopDelayMs?.max}`,
  );
  return out;
}

/** SIGTERM (the server removes its data dir and exits, writing its probe file and CPU profile), then waits. */
function stop(server: BenchServer): Promise<void> {
  return new Promise((done) => {
    if (server.child.exitCode !== null) return done();
    server.child.once("exit", () => done());
    server.child.kill("SIGTERM");
  });
}
