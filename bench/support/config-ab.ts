import { load, startBenchServer } from "./autocannon-run.js";
import { realisticRankBody } from "./rank-requests.js";
import { cpuPerRequestDuring } from "./thread-cpu.js";

/**
 * One tree, several engine configs, alternated (e.g. the log writer's group commit delay, docs/scaling.md):
 *   node --import tsx bench/support/config-ab.ts '{"off":{},"4ms":{"storage":{"groupCommitMs":4}}}' \
 *     [--rounds=2] [--rate=1000] [--duration=15]
 * Each round starts a bench server per config in turn (its config as LOOPWISE_BENCH_CONFIG), primes it for 4 s at
 * saturation, then offers the realistic rank (fresh users and contexts, bench/support/rank-requests.ts) paced open
 * loop at half the rate and at the rate, with the server's CPU per request at the rate (every thread of the
 * process: main, log writer, GC helpers) and its main thread's alone (the event loop: it saturates first, so its
 * busy share at the rate is what sets the tail); then 8 s at saturation over 16 connections (main thread's CPU per
 * request again: requests that arrive together cost it less than one at a time), and 5 s of one connection sending
 * one request at a time. Prints a line per config and round; compare within a round (the machine drifts).
 */
const flag = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt);
const configs = JSON.parse(process.argv[2] ?? "{}") as Record<string, unknown>;
if (Object.keys(configs).length === 0) {
  console.error("usage: config-ab.ts '{\"name\":{...config},...}' [--rounds=2] [--rate=1000] [--duration=15]");
  process.exit(2);
}
const rounds = flag("rounds", 2);
const rate = flag("rate", 1000);
const duration = flag("duration", 15);

for (let round = 0; round < rounds; round++) {
  for (const [name, config] of Object.entries(configs)) {
    const server = await startBenchServer("loopwise", undefined, [], { LOOPWISE_BENCH_CONFIG: JSON.stringify(config) });
    const { url, apiKey, child } = server;
    // Each phase draws its own users and contexts: no request repeats one of an earlier phase or round.
    const bodies = (phase: number) => (i: number) => realisticRankBody(i + 1e6 * (10 * round + phase), name);
    await load(url, "/v1/rank", bodies(0), { duration: 4, connections: 16, apiKey });
    const half = await load(url, "/v1/rank", bodies(1), { duration, connections: 4, apiKey, overallRate: rate / 2 });
    const pid = child.pid as number;
    // The server's CPU per rank (its event loop is the thread that saturates first); "?" where unreadable.
    const atRate = await cpuPerRequestDuring(pid, () =>
      load(url, "/v1/rank", bodies(2), { duration, connections: 4, apiKey, overallRate: rate }),
    );
    const full = atRate.result;
    const atSaturation = await cpuPerRequestDuring(pid, () =>
      load(url, "/v1/rank", bodies(3), { duration: 8, connections: 16, apiKey }),
    );
    const saturated = atSaturation.result;
    const oneAtATime = await load(url, "/v1/rank", bodies(4), { duration: 5, connections: 1, apiKey });
    console.log(
      `${name} round ${round + 1}: at ${rate / 2}/s p50 ${half.p50Ms} p99 ${half.p99Ms} max ${half.maxMs} ms; ` +
        `at ${rate}/s p50 ${full.p50Ms} p99 ${full.p99Ms} max ${full.maxMs} ms, server CPU ${atRate.cpu?.processUs ?? "?"} µs/rank ` +
        `(main thread ${atRate.cpu?.mainUs ?? "?"}); saturation ${saturated.requestsPerSec.toFixed(0)} req/s ` +
        `(main thread ${atSaturation.cpu?.mainUs ?? "?"} µs/rank); one connection ${oneAtATime.requestsPerSec.toFixed(0)} req/s`,
    );
    await new Promise((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
  }
}
