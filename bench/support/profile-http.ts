import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type HttpFigures, load } from "./autocannon-run.js";
import type { Profile, ProfileNode } from "./profile-stages.js";
import { eventBatchBody, realisticRankBody } from "./rank-requests.js";

/**
 * `npm run bench -- http --profile[=events]`: the realistic rank (or batches of 100 events) over HTTP under autocannon, with the server process
 * under `node --cpu-prof`, and its main thread's CPU charged to stages of the request's life: JSON parse,
 * auth, path-id check, the engine's rank (itself split by profile-stages.ts: validation, features, policy,
 * log append, …), response serialization, the metrics hook, fastify and Node's HTTP/net, GC, idle.
 *   node --import tsx bench/run.ts http --profile [--duration=S] [--connections=N]
 *   node --import tsx bench/support/profile-http.ts FILE.cpuprofile   (summarize an existing profile)
 */

/**
 * A sample's stage is the first of these met walking its stack from the root: the route's own hooks and
 * handler are specific frames under fastify's generic ones. Matched on function name and the file's URL.
 */
const boundaries: { stage: string; fn?: RegExp; url: RegExp }[] = [
  { stage: "startup (module load, engine and server build)", url: /node:internal\/modules|\/tsx\/dist\// },
  { stage: "startup (module load, engine and server build)", fn: /^(buildServer|createEngine)$/, url: /src\// },
  { stage: "JSON parse (body)", url: /secure-json-parse|fastify\/lib\/content-type-parser\.js$/ },
  { stage: "auth", url: /src\/server\/auth\.ts$|api-key/ },
  { stage: "path ids", url: /src\/server\/path-ids\.ts$/ },
  { stage: "rate limit", url: /@fastify\/rate-limit/ },
  { stage: "metrics hook", url: /src\/server\/server\.ts$/ },
  { stage: "logging", url: /pino/ },
  // The engine: everything of ours outside server/ (the handler's call, and the microtasks it resumes in).
  { stage: "engine", url: /\/src\/(?!server\/)/ },
  { stage: "serialize", url: /fast-json-stringify|src\/server\/serializers\.ts$/ },
  { stage: "serialize", fn: /^serialize$/, url: /fastify\/lib\/reply\.js$/ },
  { stage: "response write (headers, socket)", fn: /^onSendEnd$/, url: /fastify\/lib\/reply\.js$/ },
];

/** The engine's share split by where its time goes (the in-process rank is another engineer's profile). */
const engineParts: [RegExp, string][] = [
  [/src\/(storage|decisions)\//, "engine: decision log (encode, post to writer)"],
  [/src\/bandit\//, "engine: policy (bandit)"],
  [/src\/(features|recommend)\//, "engine: features, recommender"],
  [/prom-client/, "engine: metrics"],
];

function stageOfStack(stack: ProfileNode[]): string {
  for (const node of stack) {
    const { functionName, url } = node.callFrame;
    const hit = boundaries.find((b) => b.url.test(url) && (!b.fn || b.fn.test(functionName)));
    if (hit?.stage !== "engine") {
      if (hit) return hit.stage;
      continue;
    }
    const part = engineParts.find(([re]) => stack.some((n) => re.test(n.callFrame.url)));
    return part?.[1] ?? "engine: other (rank use-case, validation, record)";
  }
  const leaf = stack[stack.length - 1]?.callFrame;
  if (!leaf) return "(unknown)";
  if (/^\((garbage collector|idle|program)\)$/.test(leaf.functionName)) return leaf.functionName;
  if (stack.some((n) => /fastify|find-my-way|avvio/.test(n.callFrame.url))) return "fastify (routing, hooks, reply)";
  if (stack.some((n) => /^node:/.test(n.callFrame.url))) return "node http/net/streams";
  return "other";
}

/** CPU ms per stage of one profile, most first, with each stage's share of the non-idle time. */
export function httpStageTable(profile: Profile): { stage: string; ms: number; share: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, string>();
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    let stage = memo.get(id);
    if (!stage) {
      const stack: ProfileNode[] = [];
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.unshift(byId.get(cur)!);
      stage = stageOfStack(stack);
      memo.set(id, stage);
    }
    totals.set(stage, (totals.get(stage) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  // Shares of the serving time: idle and the server's start are not part of any request.
  const apart = (stage: string) => stage === "(idle)" || stage.startsWith("startup");
  const busy = [...totals].filter(([s]) => !apart(s)).reduce((a, [, t]) => a + t, 0);
  return [...totals]
    .map(([stage, us]) => ({ stage, ms: us / 1000, share: apart(stage) ? Number.NaN : us / busy }))
    .sort((a, b) => b.ms - a.ms);
}

function printTable(title: string, rows: { stage: string; ms: number; share: number }[], perRequest: number): void {
  console.log(`\n${title}\n| stage | CPU ms | share of busy | µs per request |\n|---|---:|---:|---:|`);
  for (const r of rows) {
    const share = Number.isNaN(r.share) ? "" : `${(100 * r.share).toFixed(1)}%`;
    console.log(`| ${r.stage} | ${r.ms.toFixed(0)} | ${share} | ${((r.ms * 1000) / perRequest).toFixed(0)} |`);
  }
}

/** Profiles the server under the realistic rank load (or batches of events); prints the table, returns the figures. */
export async function profileHttp(
  which: "rank" | "events",
  { duration, connections }: { duration: number; connections: number },
): Promise<Record<string, unknown>> {
  const [path, bodyFor] =
    which === "rank" ? ["/v1/rank", (i: number) => realisticRankBody(i, "prof")] : ["/v1/events", eventBatchBody];
  const dir = mkdtempSync(join(tmpdir(), "loopwise-prof-"));
  const script = fileURLToPath(new URL("./server-child.ts", import.meta.url));
  const child = spawn(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--import", "tsx", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ready = await new Promise<{ port: string; apiKey: string }>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d) => {
      out += d;
      const m = /READY (\d+) ?(\S*)/.exec(out);
      if (m) resolve({ port: m[1] as string, apiKey: m[2] ?? "" });
    });
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${ready.port}`;
  // Warm up (JIT, first pools) before the profiled part counts: the profile covers both, the figures the second.
  const warm = await load(url, path, (i) => bodyFor(i + 1e6), {
    duration: 3,
    connections,
    apiKey: ready.apiKey,
  });
  const figures: HttpFigures = await load(url, path, bodyFor, {
    duration,
    connections,
    apiKey: ready.apiKey,
  });
  await new Promise((resolve) => {
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
  try {
    // The main thread's profile is the largest (the log writer thread writes its own).
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".cpuprofile"))
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(b).size - statSync(a).size);
    const main = JSON.parse(readFileSync(files[0] as string, "utf8")) as Profile;
    const requests = warm.requestsPerSec * 3 + figures.requestsPerSec * duration;
    console.log(`${path} over HTTP: ${figures.requestsPerSec.toFixed(0)} req/s, p99 ${figures.p99Ms} ms`);
    const stages = httpStageTable(main);
    printTable("server main thread by stage (warm-up included; shares of the serving time)", stages, requests);
    return { figures, stages, requests: Math.round(requests) };
  } finally {
    // LOOPWISE_PROFILE_KEEP=1 keeps the .cpuprofile files (open them in Chrome DevTools) and prints where.
    if (process.env.LOOPWISE_PROFILE_KEEP) console.log(`profiles kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const file of process.argv.slice(2)) {
    printTable(file, httpStageTable(JSON.parse(readFileSync(file, "utf8")) as Profile), 1);
  }
}
