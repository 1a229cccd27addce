import { join } from "node:path";
import { pino } from "pino";
import { realisticRankBody } from "./rank-requests.js";

/**
 * `npm run bench -- http --ab-path=OTHER_TREE [--rounds=N]`: the server's own path of a rank request (JSON
 * body parse, auth, hooks, metrics, reply serialization), this tree's against another checkout's, in one
 * process through fastify's `inject` (no socket, no load generator). Each tree's server gets a real engine
 * whose `rank` answers a canned result (a real answer to the first request), so what is timed is what
 * HTTP adds to the engine for the realistic 6 KB body. Rounds alternate the trees; the figure is CPU µs per
 * request (process.cpuUsage: less sensitive to a loaded machine than wall time) and the median ratio.
 */
export async function abHttpPath(otherTree: string, rounds: number, perRound = 3000): Promise<Record<string, unknown>> {
  const here = join(import.meta.dirname, "../..");
  const trees = [
    ["this", here],
    ["other", otherTree],
  ] as const;
  const bodies = Array.from({ length: perRound }, (_, i) => JSON.stringify(realisticRankBody(i, "path")));
  const servers = [];
  for (const [name, root] of trees) servers.push({ name, ...(await cannedServer(root, bodies[0] as string)) });
  const cpu: Record<string, number[]> = { this: [], other: [] };
  try {
    // One unmeasured pass each first: the first round otherwise times the JIT's warm-up of whichever goes first.
    for (const s of servers) for (const payload of bodies) await s.inject(payload);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) {
        const before = process.cpuUsage();
        for (const payload of bodies) {
          const res = await s.inject(payload);
          if (res !== 200) throw new Error(`${s.name}: status ${res}`);
        }
        const used = process.cpuUsage(before);
        (cpu[s.name] as number[]).push((used.user + used.system) / bodies.length);
      }
      console.log(
        `round ${round + 1}: this ${cpu.this?.at(-1)?.toFixed(1)} µs CPU/request, other ${cpu.other?.at(-1)?.toFixed(1)}`,
      );
    }
  } finally {
    for (const s of servers) await s.close();
  }
  const ratios = (cpu.this as number[]).map((t, i) => t / (cpu.other as number[])[i]!);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const summary = {
    thisUsPerRequest: Number(median(cpu.this as number[]).toFixed(1)),
    otherUsPerRequest: Number(median(cpu.other as number[]).toFixed(1)),
    cpuRatio: Number(median(ratios).toFixed(3)),
  };
  console.log("server path of a rank request, engine answer canned (median):", summary);
  return { otherTree, rounds, perRound, summary, cpu };
}

/** A tree's server over a real in-memory engine whose rank answers what it answered to `first`. */
async function cannedServer(root: string, first: string) {
  const { createEngine } = await import(join(root, "src/app/engine.ts"));
  const { buildServer } = await import(join(root, "src/server/server.ts"));
  const { loadBenchCatalog } = await import(join(root, "bench/support/rank-requests.ts"));
  const engine = await createEngine({ dataDir: ":memory:", logger: pino({ level: "warn" }) });
  await loadBenchCatalog(engine);
  const canned = await engine.rank(JSON.parse(first));
  engine.rank = async () => canned;
  const app = await buildServer(engine);
  const headers = { authorization: `Bearer ${engine.adminKey}`, "content-type": "application/json" };
  return {
    inject: async (payload: string) =>
      (await app.inject({ method: "POST", url: "/v1/rank", headers, payload })).statusCode,
    close: async () => {
      await app.close();
      await engine.close();
    },
  };
}
