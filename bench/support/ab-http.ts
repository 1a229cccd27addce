import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type BenchServer, type HttpFigures, type LoadOptions, load, startBenchServer } from "./autocannon-run.js";
import { eventBatchBody, realisticRankBody } from "./rank-requests.js";

/**
 * `npm run bench -- http --ab=OTHER_TREE [--rounds=N] [--duration=S]`: this tree's server against another
 * checkout's (e.g. `git worktree add /tmp/base <commit>`, with a node_modules symlink), both running at once,
 * loaded in turn for S seconds each, N rounds, rank (realistic) and events (batches of 100). On a shared,
 * noisy machine the load drifts over minutes; alternating short runs puts both under the same drift, and
 * the figure is the median of the per-round ratios (this tree ÷ other). Beside throughput, each server's CPU
 * time per request (all its threads, from /proc: the log writer's too): under contention a process's share
 * of the cores drifts, its CPU per request much less. The CPU is also split by thread: the main thread (the
 * event loop) and the busiest other thread (the log writer's, under a write load), since each gets about one
 * of the two cores. `only` limits the cases run (e.g. `--cases=eventBatch100`).
 */
export async function abHttp(
  otherTree: string,
  rounds: number,
  options: LoadOptions,
  only?: readonly string[],
): Promise<Record<string, unknown>> {
  const mine = await startBenchServer("loopwise");
  const other = await startBenchServer("loopwise", join(otherTree, "bench/support/server-child.ts"));
  const allCases: [string, string, (i: number) => unknown][] = [
    ["rank", "/v1/rank", (i) => realisticRankBody(i, "ab")],
    ["eventBatch100", "/v1/events", eventBatchBody],
    [
      "event1",
      "/v1/events",
      (i) => ({ events: [{ type: "view", userId: `ue${i % 5000}`, itemId: `item-${i % 2000}`, eventId: `e${i}` }] }),
    ],
  ];
  const cases = allCases.filter(([name]) => !only || only.includes(name));
  type Runs = { mine: Figures[]; other: Figures[]; ratios: number[]; cpuRatios: number[] };
  const results: Record<string, Runs> = Object.fromEntries(
    cases.map(([name]) => [name, { mine: [], other: [], ratios: [], cpuRatios: [] }]),
  );
  try {
    let offset = 0;
    for (let round = 0; round < rounds; round++) {
      for (const [name, path, body] of cases) {
        const r = results[name] as Runs;
        // Alternate which goes first, so neither always follows the other's garbage.
        const order: [BenchServer, Figures[]][] = [
          [mine, r.mine],
          [other, r.other],
        ];
        if (round % 2 === 1) order.reverse();
        for (const [server, into] of order) {
          const base = offset;
          const cpuBefore = cpuMs(server);
          const threadsBefore = threadCpuMs(server);
          const figures = await load(server.url, path, (i) => body(base + i), { ...options, apiKey: server.apiKey });
          const requests = Math.max(1, figures.requestsPerSec * options.duration);
          const threads = threadSplit(server, threadsBefore);
          into.push({
            ...figures,
            cpuMsPerRequest: (cpuMs(server) - cpuBefore) / requests,
            mainThreadCpuMsPerRequest: threads.main / requests,
            busiestOtherThreadCpuMsPerRequest: threads.busiestOther / requests,
          });
        }
        offset += 1_000_000; // fresh users, contexts and event ids every run
        const [m, o] = [r.mine.at(-1) as Figures, r.other.at(-1) as Figures];
        r.ratios.push(m.requestsPerSec / o.requestsPerSec);
        r.cpuRatios.push(m.cpuMsPerRequest / o.cpuMsPerRequest);
        console.log(
          `round ${round + 1} ${name.padEnd(14)} this ${m.requestsPerSec.toFixed(0)} req/s ${m.cpuMsPerRequest.toFixed(2)} CPU ms/req, other ${o.requestsPerSec.toFixed(0)} req/s ${o.cpuMsPerRequest.toFixed(2)} CPU ms/req; throughput ratio ${(m.requestsPerSec / o.requestsPerSec).toFixed(2)}, CPU/req ratio ${(m.cpuMsPerRequest / o.cpuMsPerRequest).toFixed(2)}; per request main thread ${m.mainThreadCpuMsPerRequest.toFixed(3)} vs ${o.mainThreadCpuMsPerRequest.toFixed(3)} ms, busiest other thread ${m.busiestOtherThreadCpuMsPerRequest.toFixed(3)} vs ${o.busiestOtherThreadCpuMsPerRequest.toFixed(3)} ms`,
        );
      }
    }
  } finally {
    mine.child.kill();
    other.child.kill();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const summary = Object.fromEntries(
    Object.entries(results).map(([k, v]) => [
      k,
      {
        throughput: Number(median(v.ratios).toFixed(3)),
        cpuPerRequest: Number(median(v.cpuRatios).toFixed(3)),
        mainThreadCpuPerRequest: Number(median(pairRatios(v, "mainThreadCpuMsPerRequest")).toFixed(3)),
        busiestOtherThreadCpuPerRequest: Number(median(pairRatios(v, "busiestOtherThreadCpuMsPerRequest")).toFixed(3)),
      },
    ]),
  );
  console.log("median ratios (this tree ÷ other):", summary);
  return { otherTree, rounds, options, medianRatios: summary, results };
}

type Figures = HttpFigures & {
  cpuMsPerRequest: number;
  mainThreadCpuMsPerRequest: number;
  busiestOtherThreadCpuMsPerRequest: number;
};

/** This tree's figure over the other's, per round. */
function pairRatios(runs: { mine: Figures[]; other: Figures[] }, key: keyof Figures): number[] {
  return runs.mine.map((m, i) => (m[key] as number) / ((runs.other[i] as Figures)[key] as number));
}

/** CPU ms on a core so far per thread of the server (Linux schedstat, ns resolution), by thread id. */
function threadCpuMs(server: BenchServer): Map<number, number> {
  const out = new Map<number, number>();
  const dir = `/proc/${server.child.pid}/task`;
  for (const tid of readdirSync(dir)) {
    try {
      out.set(Number(tid), Number(readFileSync(`${dir}/${tid}/schedstat`, "utf8").split(" ")[0]) / 1e6);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** The main thread's CPU ms since `before` (its tid is the pid), and the busiest other thread's. */
function threadSplit(server: BenchServer, before: Map<number, number>): { main: number; busiestOther: number } {
  const pid = server.child.pid as number;
  let main = 0;
  let busiestOther = 0;
  for (const [tid, ms] of threadCpuMs(server)) {
    const used = ms - (before.get(tid) ?? 0);
    if (tid === pid) main = used;
    else busiestOther = Math.max(busiestOther, used);
  }
  return { main, busiestOther };
}

/** A process's user + system CPU so far, in ms, all threads (Linux /proc; clock ticks of 10 ms). */
function cpuMs(server: BenchServer): number {
  const stat = readFileSync(`/proc/${server.child.pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
