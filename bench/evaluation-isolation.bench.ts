import { randomBytes } from "node:crypto";
import { EVALUATION_LIMITS } from "../src/app/evaluate.js";
import { startBenchServer } from "./support/autocannon-run.js";
import { pacedLoad } from "./support/paced-load.js";

/**
 * `npm run bench -- evaluation-isolation [--seconds=10] [--rate=200] [--decisions=20000] [--skip-in-thread]`:
 * rank latency at a fixed rate (200 req/s, paced open loop) while idle and while POST /v1/evaluations
 * runs its largest allowed job (20 targets, 10,000 bootstrap resamples) on a log of `decisions` decisions.
 * Twice: with the data on disk (the job runs in a worker thread, issue 14) and, for contrast, in memory
 * (the job runs on the server's event loop, as every job did before). The figure is the ratio of p99
 * during the job to p99 idle, measured in the same run (target ≤ 2×).
 */
const flag = (args: string[], name: string, dflt: number) =>
  Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);

interface Phase {
  /** Rank responses received; the latencies cover only these. */
  completed: number;
  timeouts: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const seconds = flag(args, "seconds", 10);
  const rate = flag(args, "rate", 200);
  const decisions = flag(args, "decisions", 20_000);
  const out: Record<string, unknown> = { seconds, rate, decisions, connections: 4 };
  out.worker = await measure("evaluation", { seconds, rate, decisions });
  if (!args.includes("--skip-in-thread"))
    out.inThread = await measure("evaluation-in-thread", { seconds, rate, decisions });
  return out;
}

async function measure(
  kind: "evaluation" | "evaluation-in-thread",
  o: { seconds: number; rate: number; decisions: number },
): Promise<Record<string, unknown>> {
  const key = `lw_admin_${randomBytes(18).toString("base64url")}`;
  process.env.LOOPWISE_BENCH_ADMIN_KEY = key;
  process.env.LOOPWISE_BENCH_DECISIONS = String(o.decisions);
  const server = await startBenchServer(kind);
  try {
    const headers = { "content-type": "application/json", authorization: `Bearer ${key}` };
    const idle = await rankAt(server.url, headers, o);
    const job = await startLargestJob(server.url, headers);
    const loaded = await rankAt(server.url, headers, o);
    const status = await (await fetch(`${server.url}/v1/evaluations/${job}`, { headers })).json();
    // No rank answered while loaded: latencies are of nothing, the ratio is unbounded (null).
    const ratio = loaded.completed > 0 ? Number((loaded.p99Ms / Math.max(idle.p99Ms, 0.001)).toFixed(2)) : null;
    const label = kind === "evaluation" ? "job in a worker thread" : "job on the event loop";
    console.log(`${label.padEnd(24)} idle    p50 ${idle.p50Ms} ms  p99 ${idle.p99Ms} ms  ${idle.requestsPerSec} req/s`);
    console.log(
      `${"".padEnd(24)} loaded  p50 ${loaded.p50Ms} ms  p99 ${loaded.p99Ms} ms  ${loaded.requestsPerSec} req/s  (${loaded.completed} answered, ${loaded.timeouts} timed out)`,
    );
    const shown = ratio === null ? "unbounded (no rank answered)" : `${ratio}×`;
    console.log(`${"".padEnd(24)} p99 loaded/idle = ${shown}  (job ${status.status}, progress ${status.progress})`);
    return { idle, loaded, p99Ratio: ratio, job: { status: status.status, progress: status.progress } };
  } finally {
    server.child.kill();
  }
}

async function startLargestJob(url: string, headers: Record<string, string>): Promise<string> {
  const specs = ["softmax", "epsilon-greedy", "greedy", "thompson", "linucb"];
  // Half replay-learning targets (a fresh copy learns along the log), half fixed policies.
  const targets = Array.from({ length: EVALUATION_LIMITS.targets }, (_, i) => {
    const spec = JSON.stringify({ type: specs[i % specs.length], features: { dims: 1024 } });
    return i % 2 === 0 ? spec : `learn:${spec}`;
  });
  const res = await fetch(`${url}/v1/evaluations`, {
    method: "POST",
    headers,
    body: JSON.stringify({ logs: "loopwise:", targets, bootstrap: EVALUATION_LIMITS.bootstrap }),
  });
  if (res.status !== 202) throw new Error(`POST /v1/evaluations answered ${res.status}: ${await res.text()}`);
  // Let the job start (read the log) before measuring.
  await new Promise((r) => setTimeout(r, 1000));
  return ((await res.json()) as { id: string }).id;
}

async function rankAt(
  url: string,
  headers: Record<string, string>,
  o: { seconds: number; rate: number },
): Promise<Phase> {
  const candidates = Array.from({ length: 20 }, (_, k) => ({ id: `item${k % 5}-${k}` }));
  // Paced open loop (support/paced-load.ts): autocannon's overallRate sends each second's quota as fast as it can.
  const result = await pacedLoad(
    url,
    (i) => ({
      method: "POST",
      path: "/v1/rank",
      body: JSON.stringify({ userId: `u${i % 1000}`, candidates, slots: 5 }),
    }),
    { rate: o.rate, duration: o.seconds, connections: 4, headers },
  );
  return {
    completed: result.sent - result.errors,
    timeouts: result.errors,
    requestsPerSec: result.requestsPerSec,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    maxMs: result.maxMs,
    non2xx: result.non2xx,
  };
}
