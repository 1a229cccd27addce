import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

export interface HttpFigures {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

export async function startBenchServer(
  kind: "bare" | "loopwise" | "features" | "evaluation" | "evaluation-in-thread",
): Promise<{ url: string; child: ChildProcess }> {
  const script = fileURLToPath(new URL("./server-child.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, kind], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

/** Runs autocannon against one route; `bodyFor(i)` gives the i-th request's JSON body. */
export function load(
  url: string,
  path: string,
  bodyFor: (i: number) => unknown,
  options: { duration: number; connections: number },
): Promise<HttpFigures> {
  let i = 0;
  return measure({
    url: `${url}${path}`,
    method: "POST",
    headers: { "content-type": "application/json" },
    connections: options.connections,
    duration: options.duration,
    requests: [{ setupRequest: (req) => ({ ...req, body: JSON.stringify(bodyFor(i++)) }) }],
  });
}

/** Runs autocannon with GETs; `pathFor(i)` gives the i-th request's path. */
export function getLoad(
  url: string,
  pathFor: (i: number) => string,
  options: { duration: number; connections: number },
): Promise<HttpFigures> {
  let i = 0;
  return measure({
    url,
    method: "GET",
    connections: options.connections,
    duration: options.duration,
    requests: [{ setupRequest: (req) => ({ ...req, path: pathFor(i++) }) }],
  });
}

async function measure(opts: autocannon.Options): Promise<HttpFigures> {
  const result = await autocannon(opts);
  return {
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}
