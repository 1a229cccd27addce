import { readFileSync } from "node:fs";
import { load, startBenchServer } from "./support/autocannon-run.js";
import { realisticRankBody } from "./support/rank-requests.js";

/**
 * `npm run bench -- soak [--duration=360] [--connections=16]`: rank at saturation with a fresh user and context
 * per request (100 candidates × 2 features, 10 slots) for 6 minutes, sampling the server process's RSS every
 * 5 s. Issue 12's bar: RSS under 1.5 GiB and flat (< +30% over the last 4 minutes), max latency ≤ 250 ms.
 * The learning loop's open reward windows fill during the first 10 minutes of a window, so a bounded pending
 * state is what keeps the curve flat. Run it alone: it saturates the machine.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string, dflt: number) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const duration = flag("duration", 360);
  const server = await startBenchServer("loopwise");
  const pid = server.child.pid;
  if (pid === undefined) throw new Error("the bench server has no pid");
  const samples: { s: number; rssMiB: number }[] = [];
  const started = Date.now();
  const sample = () => samples.push({ s: Math.round((Date.now() - started) / 1000), rssMiB: rssMiB(pid) });
  sample();
  const timer = setInterval(sample, 5000);
  try {
    const figures = await load(server.url, "/v1/rank", (i) => realisticRankBody(i, "soak"), {
      duration,
      connections: flag("connections", 16),
      apiKey: server.apiKey,
    });
    sample();
    const lastWindowStart = duration - Math.min(240, duration * (2 / 3));
    const atWindowStart = samples.find((x) => x.s >= lastWindowStart) ?? samples[0]!;
    const end = samples.at(-1)!;
    const growth = (end.rssMiB - atWindowStart.rssMiB) / atWindowStart.rssMiB;
    const peak = Math.max(...samples.map((x) => x.rssMiB));
    console.log(
      `soak ${duration} s: ${figures.requestsPerSec.toFixed(0)} req/s, p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, max ${figures.maxMs} ms, errors ${figures.errors}, non2xx ${figures.non2xx}`,
    );
    console.log(
      `RSS: start ${samples[0]!.rssMiB} MiB, at ${atWindowStart.s} s ${atWindowStart.rssMiB} MiB, end ${end.rssMiB} MiB (${(growth * 100).toFixed(1)}% over the last ${duration - atWindowStart.s} s), peak ${peak} MiB`,
    );
    console.log(
      `RSS curve (MiB per 30 s): ${samples
        .filter((x) => x.s % 30 < 5)
        .map((x) => x.rssMiB)
        .join(" ")}`,
    );
    return { duration, figures, rss: { peakMiB: peak, growthLastWindow: growth, samples } };
  } finally {
    clearInterval(timer);
    server.child.kill();
  }
}

/** Resident set size of a process on Linux, from /proc (MiB). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}
