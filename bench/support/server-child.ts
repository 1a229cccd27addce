/**
 * A server for HTTP benchmarks, in its own process so the load generator does not share its event
 * loop: `bare` is a plain fastify route (the ceiling on this machine), `loopwise` the real engine on a
 * fresh data dir, `features` the real engine with a clock fixed at the end of the generated feature stream
 * (`featureBenchStream`), whose events it ingests through the engine before it is ready. Prints
 * `READY <port> <admin key>` on stdout.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { pino } from "pino";
import { createEngine } from "../../src/app/engine.js";
import { buildServer } from "../../src/server/server.js";
import { seedDecisionLog } from "./decision-log.js";
import { featureBenchStream } from "./feature-stream.js";

const kind = process.argv[2] ?? "loopwise";
let app: { listen: (o: { port: number; host: string }) => Promise<string> };
let apiKey = "";
if (kind === "bare") {
  const bare = Fastify({ logger: false });
  bare.post("/bare", async (req) => ({ ok: true, echo: (req.body as { userId?: string })?.userId }));
  bare.get("/bare/:id", async (req) => ({ ok: true, echo: (req.params as { id: string }).id }));
  app = bare;
} else if (kind === "features") {
  const { events, end } = featureBenchStream();
  const dataDir = mkdtempSync(join(tmpdir(), "loopwise-bench-"));
  const engine = await createEngine({ dataDir, logger: pino({ level: "warn" }), clock: { now: () => end } });
  for (let i = 0; i < events.length; i += 1000) {
    await engine.ingestEvents({ events: events.slice(i, i + 1000) });
  }
  app = await buildServer(engine);
  apiKey = engine.adminKey;
} else if (kind === "evaluation" || kind === "evaluation-in-thread") {
  // A decision log to evaluate (bench/evaluation-isolation.bench.ts): on disk, so jobs run in a worker
  // thread, or ":memory:", where they run in the server's own thread (the pre-issue-14 behaviour).
  const dataDir = kind === "evaluation" ? mkdtempSync(join(tmpdir(), "loopwise-bench-")) : ":memory:";
  const adminKey = process.env.LOOPWISE_BENCH_ADMIN_KEY;
  const engine = await createEngine({
    dataDir,
    logger: pino({ level: "warn" }),
    config: { ...(adminKey ? { adminKey } : {}), evaluations: { timeLimit: 120_000 } },
  });
  await seedDecisionLog(engine, Number(process.env.LOOPWISE_BENCH_DECISIONS ?? 20_000));
  app = await buildServer(engine);
  apiKey = engine.adminKey;
} else {
  const dataDir = mkdtempSync(join(tmpdir(), "loopwise-bench-"));
  const engine = await createEngine({ dataDir, logger: pino({ level: "warn" }) });
  engine.start();
  // The catalog the realistic rank requests draw from (bench/support/rank-requests.ts).
  const items = Array.from({ length: 2000 }, (_, i) => ({
    id: `item-${i}`,
    category: `c${i % 20}`,
    price: 5 + (i % 200),
  }));
  for (let i = 0; i < items.length; i += 1000) await engine.upsertItems({ items: items.slice(i, i + 1000) });
  app = await buildServer(engine);
  apiKey = engine.adminKey;
}
const address = await app.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(`READY ${new URL(address).port} ${apiKey}\n`);
