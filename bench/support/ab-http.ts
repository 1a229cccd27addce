import { readFileSync } from "node:fs";
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
 * of the cores drifts, its CPU per request much less.
 */
export async function abHttp(
  otherTree: string,
  rounds: number,
  options: LoadOptions,
): Promise<Record<string, unknown>> {
  const mine = await startBenchServer("loopwise");
  const other = await startBenchServer("loopwise", join(otherTree, "bench/support/server-child.ts"));
  const cases: [string, string, (i: number) => unknown][] = [
    ["rank", "/v1/rank", (i) => realisticRankBody(i, "ab")],
    ["eventBatch100", "/v1/events", eventBatchBody],
    [
      "event1",
      "/v1/events",
      (i) => ({ events: [{ type: "view", userId: `ue${i % 5000}`, itemId: `item-${i % 2000}`, eventId: `e${i}` }] }),
    ],
  ];
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
          const figures = await load(server.url, path, (i) => body(base + i), { ...options, apiKey: server.apiKey });
          const requests = figures.requestsPerSec * options.duration;
          into.push({ ...figures, cpuMsPerRequest: (cpuMs(server) - cpuBefore) / Math.max(1, requests) });
        }
        offset += 1_000_000; // fresh users, contexts and event ids every run
        const [m, o] = [r.mine.at(-1) as Figures, r.other.at(-1) as Figures];
        r.ratios.push(m.requestsPerSec / o.requestsPerSec);
        r.cpuRatios.push(m.cpuMsPerRequest / o.cpuMsPerRequest);
        console.log(
          `round ${round + 1} ${name.padEnd(14)} this ${m.requestsPerSec.toFixed(0)} req/s ${m.cpuMsPerRequest.toFixed(2)} CPU ms/req, other ${o.requestsPerSec.toFixed(0)} req/s ${o.cpuMsPerRequest.toFixed(2)} CPU ms/req; throughput ratio ${(m.requestsPerSec / o.requestsPerSec).toFixed(2)}, CPU/req ratio ${(m.cpuMsPerRequest / o.cpuMsPerRequest).toFixed(2)}`,
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
      { throughput: Number(median(v.ratios).toFixed(3)), cpuPerRequest: Number(median(v.cpuRatios).toFixed(3)) },
    ]),
  );
  console.log("median ratios (this tree ÷ other):", summary);
  return { otherTree, rounds, options, medianRatios: summary, results };
}

type Figures = HttpFigures & { cpuMsPerRequest: number };

/** A process's user + system CPU so far, in ms, all threads (Linux /proc; clock ticks of 10 ms). */
function cpuMs(server: BenchServer): number {
  const stat = readFileSync(`/proc/${server.child.pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
