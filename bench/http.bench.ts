import { abHttp } from "./support/ab-http.js";
import {
  type BenchServer,
  type HttpFigures,
  type LoadOptions,
  load,
  startBenchServer,
} from "./support/autocannon-run.js";
import { profileHttp } from "./support/profile-http.js";
import { eventBatchBody, realisticRankBody } from "./support/rank-requests.js";

/**
 * `npm run bench -- http`: the serving path over HTTP with autocannon, beside a bare fastify route on the same
 * machine in the same run (the ceiling; the ratio to it is the figure to compare). Each server runs in its
 * own process. Cases (issue 12):
 * - rank, realistic: 100 candidates with 2 features, 10 slots, a fresh user and context per request; at
 *   saturation, and at a fixed offered 1,000 req/s over few connections (latency at a rate: p99 and max);
 * - rank with catalog candidates (the recommender/catalog path);
 * - events: one per request, and batches of 100 (events/s).
 * Flags: --duration=S (default 10), --connections=N (saturation, default 16), --rate=R (default 1000);
 * --profile (or --profile=events): only the realistic rank (or the batches of 100 events), with the server
 * under `node --cpu-prof`, its CPU by stage (bench/support/profile-http.ts); --ab=OTHER_TREE [--rounds=N]: this
 * tree's server against another checkout's, loaded in turn (bench/support/ab-http.ts); with --cases=NAME,... only
 * those of its cases (rank, rankCatalog, eventBatch100, event1).
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string, dflt: number) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const saturate: LoadOptions = { duration: flag("duration", 10), connections: flag("connections", 16) };
  const rate = flag("rate", 1000);
  const profiled = args.find((a) => a === "--profile" || a.startsWith("--profile="));
  if (profiled) return profileHttp(profiled === "--profile=events" ? "events" : "rank", saturate);
  const otherTree = args.find((a) => a.startsWith("--ab="))?.slice(5);
  const cases = args
    .find((a) => a.startsWith("--cases="))
    ?.slice(8)
    .split(",");
  if (otherTree) return abHttp(otherTree, flag("rounds", 5), saturate, cases);

  const bare = await startBenchServer("bare");
  const bareFigures = await load(bare.url, "/bare", (i) => ({ userId: `u${i}` }), saturate);
  bare.child.kill();
  print("bare fastify POST", bareFigures);

  const lw = await startBenchServer("loopwise");
  const withKey = (o: LoadOptions): LoadOptions => ({ ...o, apiKey: lw.apiKey });
  try {
    const figures = await loopwiseCases(
      lw,
      withKey(saturate),
      withKey({ ...saturate, connections: 4, overallRate: rate }),
    );
    const ratio = (x: HttpFigures) => Number((x.requestsPerSec / bareFigures.requestsPerSec).toFixed(3));
    const ratios = {
      rank: ratio(figures.rank),
      rankCatalog: ratio(figures.rankCatalog),
      events: ratio(figures.events),
      eventBatch100: ratio(figures.eventBatch100),
    };
    const eventsPerSec = Math.round(figures.eventBatch100.requestsPerSec * 100);
    console.log("throughput as a share of bare fastify:", ratios, `(events/s in batches of 100: ${eventsPerSec})`);
    return {
      options: { ...saturate, rate },
      bare: bareFigures,
      ...figures,
      eventsPerSecInBatches: eventsPerSec,
      ratios,
    };
  } finally {
    lw.child.kill();
  }
}

async function loopwiseCases(lw: BenchServer, saturate: LoadOptions, atRate: LoadOptions) {
  const rank = await load(lw.url, "/v1/rank", (i) => realisticRankBody(i, "sat"), saturate);
  print("POST /v1/rank (100 cand × 2 feat, 10 slots, fresh)", rank);
  const rankAtRate = await load(lw.url, "/v1/rank", (i) => realisticRankBody(i, "rate"), atRate);
  print(`POST /v1/rank at ${atRate.overallRate} req/s offered`, rankAtRate);
  const rankCatalog = await load(lw.url, "/v1/rank", (i) => ({ userId: `uc${i}`, slots: 10 }), saturate);
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
  const eventBatch100 = await load(lw.url, "/v1/events", eventBatchBody, saturate);
  print("POST /v1/events (batch of 100)", eventBatch100);
  return { rank, rankAtRate, rankCatalog, events, eventBatch100 };
}

function print(name: string, f: HttpFigures): void {
  console.log(
    `${name.padEnd(50)} ${f.requestsPerSec.toFixed(0).padStart(7)} req/s  p50 ${f.p50Ms} ms  p99 ${f.p99Ms} ms  max ${f.maxMs} ms  errors ${f.errors} non2xx ${f.non2xx}`,
  );
}
