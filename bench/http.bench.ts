import { load, startBenchServer } from "./support/autocannon-run.js";

/**
 * `npm run bench -- http`: POST /v1/rank and POST /v1/events over HTTP with autocannon, beside a bare
 * fastify route on the same machine in the same run; the ratio to bare is the figure to compare.
 * Flags: --duration=S (default 10), --connections=N (default 20).
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string, dflt: number) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const options = { duration: flag("duration", 10), connections: flag("connections", 20) };
  const bare = await startBenchServer("bare");
  const bareFigures = await load(bare.url, "/bare", (i) => ({ userId: `u${i}` }), options);
  bare.child.kill();
  print("bare fastify POST", bareFigures);

  const lw = await startBenchServer("loopwise");
  const candidates = Array.from({ length: 20 }, (_, k) => ({ id: `item-${k}` }));
  const rank = await load(lw.url, "/v1/rank", (i) => ({ userId: `u${i % 5000}`, candidates, slots: 5 }), options);
  print("POST /v1/rank (20 candidates, 5 slots)", rank);
  const rankCatalog = await load(lw.url, "/v1/rank", (i) => ({ userId: `u${i % 5000}`, slots: 5 }), options);
  print("POST /v1/rank (catalog candidates)", rankCatalog);
  const events = await load(
    lw.url,
    "/v1/events",
    (i) => ({
      events: [
        { type: "view", userId: `u${i % 5000}`, itemId: `item-${i % 200}`, eventId: `e${i}`, category: `c${i % 10}` },
      ],
    }),
    options,
  );
  print("POST /v1/events (1 event)", events);
  const batch = await load(
    lw.url,
    "/v1/events",
    (i) => ({
      events: Array.from({ length: 100 }, (_, k) => ({
        type: "view",
        userId: `u${(i * 100 + k) % 5000}`,
        itemId: `item-${k}`,
        eventId: `b${i}-${k}`,
      })),
    }),
    options,
  );
  print("POST /v1/events (batch of 100)", batch);
  lw.child.kill();
  const ratio = (x: { requestsPerSec: number }) => Number((x.requestsPerSec / bareFigures.requestsPerSec).toFixed(3));
  const ratios = {
    rank: ratio(rank),
    rankCatalog: ratio(rankCatalog),
    events: ratio(events),
    eventBatch100: ratio(batch),
  };
  console.log(
    "throughput as a share of bare fastify:",
    ratios,
    `(events/s in batches of 100: ${Math.round(batch.requestsPerSec * 100)})`,
  );
  return {
    options,
    bare: bareFigures,
    rank,
    rankCatalog,
    events,
    eventBatch100: batch,
    eventsPerSecInBatches: batch.requestsPerSec * 100,
    ratios,
  };
}

function print(
  name: string,
  f: { requestsPerSec: number; p50Ms: number; p99Ms: number; errors: number; non2xx: number },
): void {
  console.log(
    `${name.padEnd(42)} ${f.requestsPerSec.toFixed(0).padStart(7)} req/s  p50 ${f.p50Ms} ms  p99 ${f.p99Ms} ms  errors ${f.errors} non2xx ${f.non2xx}`,
  );
}
