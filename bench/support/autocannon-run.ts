import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { pacedLoad } from "./paced-load.js";

export interface HttpFigures {
  requestsPerSec: number;
  /** Requests answered in all (the server's CPU per request divides by it, bench/http.bench.ts). */
  requests?: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  non2xx: number;
}

export interface BenchServer {
  url: string;
  child: ChildProcess;
  /** The server's admin API key (empty for the bare server): sent on every request. */
  apiKey: string;
}

export interface LoadOptions {
  duration: number;
  connections: number;
  /**
   * A fixed offered load in requests per second (latency at a rate); default: saturate. Such a load is paced by
   * paced-load.ts (open loop, latency from when each request was due), not by autocannon's `overallRate`, which
   * sends each second's quota as fast as it can; `connections` is then the connections opened at the start.
   */
  overallRate?: number;
  /**
   * autocannon's own `overallRate` instead (each connection sends its share of a second's quota as fast as it can,
   * then waits for the next second): how fixed-rate cases were measured before stop 28, kept to compare with them.
   */
  burstRate?: number;
  apiKey?: string;
  /** Called with every response's latency (ms): a soak's timeline of its slowest requests. */
  onResponse?: (latencyMs: number) => void;
}

export async function startBenchServer(
  kind: "bare" | "loopwise" | "features" | "evaluation" | "evaluation-in-thread",
  /** Another checkout's server-child.ts (A/B runs, bench/support/ab-http.ts); default: this tree's. */
  script = fileURLToPath(new URL("./server-child.ts", import.meta.url)),
  /** Node flags before the script (the profiler's `--cpu-prof`, bench/support/profile-http.ts). */
  nodeArgs: readonly string[] = [],
  /** Extra environment for the server (e.g. LOOPWISE_BENCH_LOOPSTATS=1: this tree's server answers `loopStats`). */
  env: Readonly<Record<string, string>> = {},
): Promise<BenchServer> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script, kind], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
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
  return { url: `http://127.0.0.1:${ready.port}`, child, apiKey: ready.apiKey };
}

function headersOf(options: LoadOptions, json: boolean): Record<string, string> {
  const headers: Record<string, string> = json ? { "content-type": "application/json" } : {};
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  return headers;
}

/** Runs autocannon against one route; `bodyFor(i)` gives the i-th request's JSON body. */
export function load(
  url: string,
  path: string,
  bodyFor: (i: number) => unknown,
  options: LoadOptions,
): Promise<HttpFigures> {
  if (options.overallRate) {
    return pacedLoad(url, (i) => ({ method: "POST", path, body: JSON.stringify(bodyFor(i)) }), {
      ...pacedOptions(options, options.overallRate),
      headers: headersOf(options, true),
    });
  }
  let i = 0;
  return measure(
    {
      url: `${url}${path}`,
      method: "POST",
      headers: headersOf(options, true),
      connections: options.connections,
      duration: options.duration,
      ...(options.burstRate ? { overallRate: options.burstRate } : {}),
      requests: [{ setupRequest: (req) => ({ ...req, body: JSON.stringify(bodyFor(i++)) }) }],
    },
    options.onResponse,
  );
}

/** Runs autocannon with GETs; `pathFor(i)` gives the i-th request's path. */
export function getLoad(url: string, pathFor: (i: number) => string, options: LoadOptions): Promise<HttpFigures> {
  if (options.overallRate) {
    return pacedLoad(url, (i) => ({ method: "GET", path: pathFor(i) }), {
      ...pacedOptions(options, options.overallRate),
      headers: headersOf(options, false),
    });
  }
  let i = 0;
  return measure({
    url,
    method: "GET",
    headers: headersOf(options, false),
    connections: options.connections,
    duration: options.duration,
    ...(options.burstRate ? { overallRate: options.burstRate } : {}),
    requests: [{ setupRequest: (req) => ({ ...req, path: pathFor(i++) }) }],
  });
}

function pacedOptions(options: LoadOptions, rate: number) {
  return {
    rate,
    duration: options.duration,
    connections: options.connections,
    ...(options.onResponse ? { onResponse: options.onResponse } : {}),
  };
}

async function measure(opts: autocannon.Options, onResponse?: (latencyMs: number) => void): Promise<HttpFigures> {
  const run = autocannon(opts);
  if (onResponse) {
    (run as unknown as NodeJS.EventEmitter).on(
      "response",
      (_client: unknown, _status: number, _bytes: number, ms: number) => onResponse(ms),
    );
  }
  const result = await run;
  return {
    requestsPerSec: result.requests.average,
    requests: result.requests.total,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

/**
 * The server's event-loop delay, GC pauses and rank timings since the previous call (bench/support/loop-stats.ts),
 * for a server started with LOOPWISE_BENCH_LOOPSTATS=1 by this tree (another tree's server would die of the signal).
 */
export function loopStats(server: BenchServer): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d;
      const m = /LOOPSTATS (.*)\n/.exec(out);
      if (!m) return;
      server.child.stdout?.off("data", onData);
      resolve(JSON.parse(m[1] as string) as Record<string, unknown>);
    };
    server.child.stdout?.on("data", onData);
    server.child.kill("SIGUSR2");
  });
}
