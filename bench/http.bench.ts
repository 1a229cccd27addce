import { abHttp } from "./support/ab-http.js";
import { abHttpPath } from "./support/ab-http-path.js";
import {
  type BenchServer,
  type HttpFigures,
  type LoadOptions,
  load,
  loopStats,
  startBenchServer,
} from "./support/autocannon-run.js";
import type { PacedFigures } from "./support/paced-load.js";
import { profileHttp } from "./support/profile-http.js";
import { eventBatchBody, eventBatchBodyClientIds, realisticRankBody } from "./support/rank-requests.js";
import { cpuPerRequestDuring, type ServerCpu } from "./support/thread-cpu.js";

/**
 * `npm run bench -- http`: the serving path over HTTP with autocannon, beside a bare fastify route on the same
 * machine in the same run (the ceiling; the ratio to it is the figure to compare). Each server runs in its
 * own process; the bare route is loaded twice: with a tiny body (the issue's ceiling) and with the rank case's
 * request bodies (fastify's read and parse of a body that size: the ceiling for requests of that size, reported
 * as `bareRankBody` and the rank's share of it, `rankOfBareRankBody`), and once more at the highest fixed rate
 * (`bareRankBodyAtRate`: this machine's floor for the tail at that rate). Cases (issue 12):
 * - rank, realistic: 100 candidates with 2 features, 10 slots, a fresh user and context per request; at
 *   saturation, the same requests with a uniform policy (the floor without the bandit; also at the highest
 *   rate, `rankUniformAtRate`), and at fixed offered
 *   rates (500 and 1,000 req/s), paced open loop (support/paced-load.ts: request i due at i / rate, latency counted
 *   from then; autocannon's `overallRate` sent each second's quota at saturation). Beside the client's
 *   figures, the server's view of each interval: event-loop delay, GC pauses, rank's wall time and the log
 *   append's within it (bench/support/loop-stats.ts), and its CPU per request (main thread and all threads,
 *   `serverCpu`: how busy the event loop and the machine were at the rate);
 * - rank with catalog candidates (the recommender/catalog path);
 * - events: one per request, and batches of 100 (events/s), with the bench's short ordered ids and with ids as our
 *   client makes them (`ev_<uuid>`, random: what a log indexing ids pays for).
 * Flags: --duration=S (default 10), --connections=N (saturation, default 16), --rates=R1,R2 (default 500,1000),
 * --rate-connections=N (the fixed-rate cases' connections at the start, default 4; the paced client opens more
 * whenever a request falls due and none is idle, so they never cap the offered rate);
 * --profile (or --profile=events): only the realistic rank (or the batches of 100 events), with the server
 * under `node --cpu-prof`, its CPU by stage (bench/support/profile-http.ts); --ab=OTHER_TREE [--rounds=N]: this
 * tree's server against another checkout's, loaded in turn (bench/support/ab-http.ts); with --cases=NAME,... only
 * those of its cases (rank, rankCatalog, eventBatch100, event1); --ab-path=OTHER_TREE [--rounds=N]: the server's own path of a
 * rank request (parse, auth, hooks, serialization; the engine's answer canned), both trees in one process
 * through `inject` (bench/support/ab-http-path.ts).
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string, dflt: number) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const saturate: LoadOptions = { duration: flag("duration", 10), connections: flag("connections", 16) };
  // Offered rates for the latency-at-a-rate cases (the highest is reported as rankAtRate, the figure).
  const rates = (args.find((a) => a.startsWith("--rates="))?.slice(8) ?? `500,${flag("rate", 1000)}`)
    .split(",")
    .map(Number);
  const profiled = args.find((a) => a === "--profile" || a.startsWith("--profile="));
  if (profiled) return profileHttp(profiled === "--profile=events" ? "events" : "rank", saturate);
  const otherTree = args.find((a) => a.startsWith("--ab="))?.slice(5);
  const cases = args
    .find((a) => a.startsWith("--cases="))
    ?.slice(8)
    .split(",");
  if (otherTree) return abHttp(otherTree, flag("rounds", 5), saturate, cases);
  const pathTree = args.find((a) => a.startsWith("--ab-path="))?.slice(10);
  if (pathTree) return abHttpPath(pathTree, flag("rounds", 6));

  const bare = await startBenchServer("bare");
  const bareFigures = await load(bare.url, "/bare", (i) => ({ userId: `u${i}` }), saturate);
  // The same bare route sent the rank case's request bodies (~7 KB of JSON: 100 candidates): fastify's read and
  // JSON parse of a body of that size, and nothing else. The ratio is against the tiny body above; this
  // one says how much of the gap is the request's size alone, before any of our work.
  const bareRankBody = await load(bare.url, "/bare", (i) => realisticRankBody(i, "bare"), saturate);
  // The same bodies at the highest fixed rate, paced as the rank's (below): this machine's floor for the tail at
  // that rate, with the load generator beside the server (rank's p99 at the rate compares with this one).
  const topRate = Math.max(...rates);
  const fewConnections = { ...saturate, connections: flag("rate-connections", 4) };
  const bareRankBodyAtRate = await withServerCpu(bare, () =>
    load(bare.url, "/bare", (i) => realisticRankBody(i, "bareRate"), { ...fewConnections, overallRate: topRate }),
  );
  bare.child.kill();
  print("bare fastify POST", bareFigures);
  print("bare fastify POST, the rank request's body", bareRankBody);
  print(`bare fastify POST, the rank request's body at ${topRate} req/s offered`, bareRankBodyAtRate);

  const lw = await startBenchServer("loopwise", undefined, [], { LOOPWISE_BENCH_LOOPSTATS: "1" });
  const withKey = (o: LoadOptions): LoadOptions => ({ ...o, apiKey: lw.apiKey });
  try {
    const figures = await loopwiseCases(lw, withKey(saturate), rates, withKey(fewConnections));
    const ratio = (x: HttpFigures) => Number((x.requestsPerSec / bareFigures.requestsPerSec).toFixed(3));
    const ratios = {
      bareRankBody: ratio(bareRankBody),
      rank: ratio(figures.rank),
      rankOfBareRankBody: Number((figures.rank.requestsPerSec / bareRankBody.requestsPerSec).toFixed(3)),
      rankUniform: ratio(figures.rankUniform),
      rankCatalog: ratio(figures.rankCatalog),
      events: ratio(figures.events),
      eventBatch100: ratio(figures.eventBatch100),
      eventBatch100ClientIds: ratio(figures.eventBatch100ClientIds),
    };
    const eventsPerSec = Math.round(figures.eventBatch100.requestsPerSec * 100);
    const clientIdEventsPerSec = Math.round(figures.eventBatch100ClientIds.requestsPerSec * 100);
    console.log(
      "throughput as a share of bare fastify:",
      ratios,
      `(events/s in batches of 100: ${eventsPerSec}; with our client's random ids: ${clientIdEventsPerSec})`,
    );
    return {
      options: { ...saturate, rates },
      bare: bareFigures,
      bareRankBody,
      bareRankBodyAtRate,
      ...figures,
      eventsPerSecInBatches: eventsPerSec,
      eventsPerSecInBatchesClientIds: clientIdEventsPerSec,
      ratios,
    };
  } finally {
    lw.child.kill();
  }
}

type Measured = HttpFigures & { server: Record<string, unknown>; serverCpu?: ServerCpu };

/**
 * One load, with the server's own view of the same interval (loop delay, GC, rank timings: loop-stats.ts) and its
 * CPU per request.
 */
async function measured(lw: BenchServer, name: string, run: () => Promise<HttpFigures>): Promise<Measured> {
  await loopStats(lw); // starts the interval
  const figures = await withServerCpu(lw, run);
  const server = await loopStats(lw);
  print(name, figures);
  console.log(`${"".padEnd(4)}server: ${JSON.stringify(server)}`);
  return { ...figures, server };
}

/** A load's figures with the server's CPU per request (`serverCpu`, bench/support/thread-cpu.ts). */
async function withServerCpu(
  server: BenchServer,
  run: () => Promise<HttpFigures>,
): Promise<HttpFigures & { serverCpu?: ServerCpu }> {
  const { result, cpu } = await cpuPerRequestDuring(server.child.pid as number, run);
  return cpu ? { ...result, serverCpu: cpu } : result;
}

async function loopwiseCases(lw: BenchServer, saturate: LoadOptions, rates: number[], fewConnections: LoadOptions) {
  const rankPath = "/v1/rank";
  const rank = await measured(lw, "POST /v1/rank (100 cand × 2 feat, 10 slots, fresh)", () =>
    load(lw.url, rankPath, (i) => realisticRankBody(i, "sat"), saturate),
  );
  // The same requests served by a uniform policy, in a server of its own that registers it (a second policy
  // is state the other cases' server does not have): the path's floor without the bandit, for this body
  // size (parse, validation, candidates, log, learning, HTTP).
  const uni = await startBenchServer("loopwise", undefined, [], {
    LOOPWISE_BENCH_LOOPSTATS: "1",
    LOOPWISE_BENCH_UNIFORM: "1",
  });
  const uniformBody = (tag: string) => (i: number) => ({ ...realisticRankBody(i, tag), policyId: "bench-uniform" });
  const top = Math.max(...rates);
  const [rankUniform, rankUniformAtRate] = await (async () => {
    const atSaturation = await measured(uni, "POST /v1/rank, the same with a uniform policy", () =>
      load(uni.url, rankPath, uniformBody("uni"), { ...saturate, apiKey: uni.apiKey }),
    );
    // And at the highest fixed rate: the tail without the bandit's cost, the rest of the path unchanged.
    const atRate = await measured(uni, `POST /v1/rank, uniform policy, at ${top} req/s offered`, () =>
      load(uni.url, rankPath, uniformBody("uniRate"), { ...fewConnections, apiKey: uni.apiKey, overallRate: top }),
    );
    return [atSaturation, atRate] as const;
  })().finally(() => uni.child.kill());
  // Latency at a fixed offered rate, below and at the target: the gap between the client's p99 and the
  // server's rank p99 is time spent waiting for the event loop.
  const rankAtRates: Record<string, Measured> = {};
  for (const rate of rates) {
    rankAtRates[rate] = await measured(lw, `POST /v1/rank at ${rate} req/s offered`, () =>
      load(lw.url, rankPath, (i) => realisticRankBody(i, `rate${rate}`), { ...fewConnections, overallRate: rate }),
    );
  }
  // The highest rate as stops 20-27 measured it (autocannon's overallRate over 4 connections: each second's quota
  // sent at saturation, so a closed loop with 4 in flight for most of the second), for comparison only.
  const rankAtRateBursts = await measured(lw, `POST /v1/rank, ${top}/s in autocannon's bursts`, () =>
    load(lw.url, rankPath, (i) => realisticRankBody(i, `burst${top}`), { ...fewConnections, burstRate: top }),
  );
  const rankCatalog = await load(lw.url, rankPath, (i) => ({ userId: `uc${i}`, slots: 10 }), saturate);
  print("POST /v1/rank (catalog candidates)", rankCatalog);
  const events = await load(
    lw.url,
    "/v1/events",
    (i) => ({
      events: [
        { type: "view", userId: `ue${i % 5000}`, itemId: `item-${i % 2000}`, eventId: `e${i}`, category: `c${i % 20}` },
      ],
    }),
    saturate,
  );
  print("POST /v1/events (1 event)", events);
  const eventBatch100 = await measured(lw, "POST /v1/events (batch of 100)", () =>
    load(lw.url, "/v1/events", eventBatchBody, saturate),
  );
  const eventBatch100ClientIds = await measured(lw, "POST /v1/events (batch of 100, client ids)", () =>
    load(lw.url, "/v1/events", eventBatchBodyClientIds, saturate),
  );
  const rankAtRate = rankAtRates[top] as Measured;
  return {
    rank,
    rankUniform,
    rankUniformAtRate,
    rankAtRate,
    rankAtRates,
    rankAtRateBursts,
    rankCatalog,
    events,
    eventBatch100,
    eventBatch100ClientIds,
  };
}

function print(name: string, f: HttpFigures & { serverCpu?: ServerCpu }): void {
  const cpu = f.serverCpu;
  const cpuText = cpu ? `  server CPU/request: main ${cpu.mainUs} µs, all threads ${cpu.processUs} µs` : "";
  console.log(
    `${name.padEnd(50)} ${f.requestsPerSec.toFixed(0).padStart(7)} req/s  p50 ${f.p50Ms} ms  p99 ${f.p99Ms} ms  max ${f.maxMs} ms  errors ${f.errors} non2xx ${f.non2xx}${cpuText}`,
  );
  // A paced case (paced-load.ts): the latency from when each request went out, and how late the client sent them.
  const paced = f as Partial<PacedFigures>;
  if (paced.fromSendMs && paced.sendLagMs) {
    const { fromSendMs: s, sendLagMs: lag } = paced;
    console.log(
      `${"".padEnd(4)}paced: p99 ${s.p99} ms, max ${s.max} ms from when sent; sent late by p99 ${lag.p99} ms, max ${lag.max} ms; ${paced.connectionsOpened} connections`,
    );
  }
}
