import { load, startBenchServer } from "./autocannon-run.js";
import { realisticRankBody } from "./rank-requests.js";
import type { SyntheticWork } from "./synthetic-route.js";
import { cpuPerRequestDuring } from "./thread-cpu.js";

/**
 * What p99 this machine gives a server whose requests do a chosen amount of each kind of a rank's work, at a fixed
 * rate with the rank's own bodies (paced open loop, as `bench http`): the calibration behind docs/scaling.md's
 * "What keeps the p99 at 1,000 req/s over 10 ms". Variants alternate within each round (the machine drifts):
 *   node --import tsx bench/support/tail-floor.ts [--rounds=2] [--rate=1000] [--duration=12] \
 *     ['{"cpu":{"burnUs":500},"roundTrip":{"burnUs":500,"workerUs":250}}']
 * Prints per variant and round the client's p50/p99/max and the server main thread's CPU per request.
 */
const flag = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt);
const given = process.argv.slice(2).find((a) => a.startsWith("{"));
const variants: Record<string, SyntheticWork> = given
  ? JSON.parse(given)
  : {
      bare: {},
      cpu500: { burnUs: 500 },
      cpu400alloc: { burnUs: 400, allocKb: 110 },
      cpu500roundTrip: { burnUs: 500, workerUs: 250 },
      all: { burnUs: 400, allocKb: 110, workerUs: 250 },
    };
const rounds = flag("rounds", 2);
const rate = flag("rate", 1000);
const duration = flag("duration", 12);

for (let round = 0; round < rounds; round++) {
  for (const [name, work] of Object.entries(variants)) {
    const server = await startBenchServer("bare", undefined, [], { LOOPWISE_BENCH_SYNTHETIC: JSON.stringify(work) });
    const pid = server.child.pid as number;
    const bodies = (phase: number) => (i: number) => realisticRankBody(i + 1e6 * (10 * round + phase), name);
    try {
      await load(server.url, "/synthetic", bodies(0), { duration: 2, connections: 16 }); // compiles the route
      const paced = { duration, connections: 4, overallRate: rate };
      const { result: figures, cpu } = await cpuPerRequestDuring(pid, () =>
        load(server.url, "/synthetic", bodies(1), paced),
      );
      console.log(
        `${name.padEnd(16)} r${round + 1}: ${rate}/s p50 ${figures.p50Ms} p99 ${figures.p99Ms} max ${figures.maxMs} ms, main thread ${cpu?.mainUs ?? "?"} µs/request`,
      );
    } finally {
      server.child.kill("SIGTERM");
      await new Promise((resolve) => server.child.once("exit", resolve));
    }
  }
}
