import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type HttpFigures, load, startBenchServer } from "./autocannon-run.js";
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
 * A sample's stage is the innermost of these on its stack (walking from the leaf): fastify runs the next
 * step of a request inside the previous one's callback (the body parser's `done` calls the hooks, which call
 * the handler), so the outermost match would charge the engine to the parser. Matched on the file's URL
 * and, where given, the function's name. Module loading and the server's start are matched outermost.
 */
const STARTUP = "startup (module load, engine and server build)";
const startup: { fn?: RegExp; url: RegExp }[] = [
  { url: /node:internal\/modules|\/tsx\/dist\// },
  { fn: /^(buildServer|createEngine)$/, url: /src\// },
];
const boundaries: { stage: string; fn?: RegExp; url: RegExp }[] = [
  { stage: "body read + JSON parse", url: /secure-json-parse|src\/server\/json-body\.ts$/ },
  {
    stage: "body read + JSON parse",
    fn: /^(defaultJsonParser|rawBody|onData|onEnd)$/,
    url: /content-type-parser\.js$/,
  },
  { stage: "auth", url: /src\/server\/auth\.ts$|api-key/ },
  { stage: "path ids", url: /src\/server\/path-ids\.ts$/ },
  { stage: "rate limit", url: /@fastify\/rate-limit/ },
  { stage: "server hooks (closing check, metrics)", url: /src\/server\/server\.ts$/ },
  { stage: "logging", url: /pino/ },
  // The engine: everything of ours outside server/ (the handler's call, and the microtasks it resumes in).
  { stage: "engine", url: /\/src\/(?!server\/)/ },
  { stage: "serialize", url: /fast-json-stringify|src\/server\/serializers\.ts$/ },
  { stage: "serialize", fn: /^serialize$/, url: /fastify\/lib\/reply\.js$/ },
  // The reply's headers and payload onto the socket: writePayload's writev is the syscall (kernel time).
  { stage: "response write (headers, socket)", fn: /^(onSendEnd|writePayload)$/, url: /fastify\/lib\/reply\.js$/ },
  // A callback-style hook's `done()` runs the rest of the request inside the hook's frame: fastify's own
  // frames in between hand the time back to fastify (and on to whatever it calls next).
  { stage: "fastify (routing, hooks, reply)", url: /node_modules\/(fastify|find-my-way|avvio|light-my-request)\// },
];

const matches = (b: { fn?: RegExp; url: RegExp }, node: ProfileNode) =>
  b.url.test(node.callFrame.url) && (!b.fn || b.fn.test(node.callFrame.functionName));

/** The engine's share split by where its time goes (the in-process rank is another engineer's profile). */
const engineParts: [RegExp, string][] = [
  [/compiled-schema|src\/events\/event-schema|\/ajv\//, "engine: request validation"],
  [/src\/(features|recommend)\/|feature-st/, "engine: features, recommender"],
  [/minute-aggregates|dashboard/, "engine: dashboard aggregates"],
  [/src\/(storage|decisions)\//, "engine: logs (encode, post to the writer thread)"],
  [/src\/bandit\//, "engine: policy (bandit)"],
  [/prom-client/, "engine: metrics"],
];

function stageOfStack(stack: ProfileNode[]): string {
  if (stack.some((node) => startup.some((b) => matches(b, node)))) return STARTUP;
  for (let i = stack.length - 1; i >= 0; i--) {
    const node = stack[i] as ProfileNode;
    const hit = boundaries.find((b) => matches(b, node));
    if (!hit) continue;
    if (hit.stage !== "engine") return hit.stage;
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
  const apart = (stage: string) => stage === "(idle)" || stage === STARTUP;
  const busy = [...totals].filter(([s]) => !apart(s)).reduce((a, [, t]) => a + t, 0);
  return [...totals]
    .map(([stage, us]) => ({ stage, ms: us / 1000, share: apart(stage) ? Number.NaN : us / busy }))
    .sort((a, b) => b.ms - a.ms);
}

type StageRow = { stage: string; ms: number; share: number };

function printTable(title: string, rows: StageRow[], perRequest: number): void {
  console.log(`\n${title}\n| stage | CPU ms | share of busy | µs per request |\n|---|---:|---:|---:|`);
  for (const r of rows) {
    const share = Number.isNaN(r.share) ? "" : `${(100 * r.share).toFixed(1)}%`;
    console.log(`| ${r.stage} | ${r.ms.toFixed(0)} | ${share} | ${((r.ms * 1000) / perRequest).toFixed(0)} |`);
  }
}

/** The split the issue asks about: what HTTP adds (parse apart), the engine, and GC, in µs per request. */
export function httpSplit(rows: StageRow[], requests: number): Record<string, number> {
  const us = (pick: (stage: string) => boolean) =>
    Math.round((1000 * rows.filter((r) => pick(r.stage)).reduce((a, r) => a + r.ms, 0)) / requests);
  const engine = (s: string) => s.startsWith("engine");
  const runtime = (s: string) => s === "(garbage collector)" || s === "(program)";
  const apart = (s: string) => s === "(idle)" || s.startsWith("startup");
  const parse = (s: string) => s === "body read + JSON parse";
  return {
    bodyParse: us(parse),
    httpOther: us((s) => !engine(s) && !runtime(s) && !apart(s) && !parse(s)),
    engine: us(engine),
    gcAndProgram: us(runtime),
    busy: us((s) => !apart(s)),
  };
}

interface ProfiledCase {
  figures: HttpFigures;
  requests: number;
  stages: (StageRow & { usPerRequest: number })[];
  split: Record<string, number>;
}

/**
 * `npm run bench -- http --profile`: the realistic rank, then the same requests with a uniform policy (the
 * floor without the bandit for this body size), each in a fresh server under the profiler; `=events`: the
 * batches of 100 events. Prints a table per case and the split side by side, and returns them (the JSON).
 */
export async function profileHttp(
  which: "rank" | "events",
  load: { duration: number; connections: number },
): Promise<Record<string, unknown>> {
  const cases: [string, string, (i: number) => unknown][] =
    which === "rank"
      ? [
          ["rank", "/v1/rank", (i) => realisticRankBody(i, "prof")],
          ["rankUniform", "/v1/rank", (i) => ({ ...realisticRankBody(i, "prof"), policyId: "bench-uniform" })],
        ]
      : [["eventBatch100", "/v1/events", eventBatchBody]];
  const out: Record<string, ProfiledCase> = {};
  for (const [name, path, bodyFor] of cases) {
    const profiled = await profileOne(path, bodyFor, load);
    out[name] = profiled;
    console.log(
      `\n${name}: ${path} over HTTP: ${profiled.figures.requestsPerSec.toFixed(0)} req/s, p99 ${profiled.figures.p99Ms} ms`,
    );
    printTable(
      `${name}: server main thread by stage (warm-up included; shares of the serving time)`,
      profiled.stages,
      profiled.requests,
    );
  }
  console.log("\nµs of main-thread CPU per request:");
  console.log(
    `| part | ${Object.keys(out).join(" | ")} |\n|---|${Object.keys(out)
      .map(() => "---:")
      .join("|")}|`,
  );
  for (const part of Object.keys(Object.values(out)[0]?.split ?? {})) {
    console.log(
      `| ${part} | ${Object.values(out)
        .map((c) => c.split[part])
        .join(" | ")} |`,
    );
  }
  return out;
}

async function profileOne(
  path: string,
  bodyFor: (i: number) => unknown,
  { duration, connections }: { duration: number; connections: number },
): Promise<ProfiledCase> {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-prof-"));
  const server = await startBenchServer("loopwise", undefined, ["--cpu-prof", `--cpu-prof-dir=${dir}`], {
    ...(path === "/v1/rank" ? { LOOPWISE_BENCH_UNIFORM: "1" } : {}),
  });
  const { child, url, apiKey } = server;
  // Warm up (JIT, first pools) before the profiled part counts: the profile covers both, the figures the second.
  const warm = await load(url, path, (i) => bodyFor(i + 1e6), { duration: 3, connections, apiKey });
  const figures: HttpFigures = await load(url, path, bodyFor, { duration, connections, apiKey });
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
    const requests = Math.round(warm.requestsPerSec * 3 + figures.requestsPerSec * duration);
    const rows = httpStageTable(main);
    const stages = rows.map((r) => ({ ...r, usPerRequest: Math.round((r.ms * 1000) / requests) }));
    return { figures, requests, stages, split: httpSplit(rows, requests) };
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
