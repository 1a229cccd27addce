import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { load } from "./autocannon-run.js";
import { eventBatchBody, eventBatchBodyClientIds } from "./rank-requests.js";

/**
 * Where the event loop stalls while batches of 100 events are ingested at saturation (issue 12, the events
 * path): `node --import tsx bench/support/events-stalls.ts [--duration=S] [--connections=N] [--threshold=MS]
 * [--profile] [TREE]`. A bench server (this tree's, or TREE's server-child.ts) with the stall trace on
 * (`LOOPWISE_BENCH_STALLS=MS`: blocks over MS, GC pauses over 20 ms), loaded with `eventBatchBody` as `bench http`
 * does; prints the client's figures and the server's STALL / GC / LOOP lines. With --profile the server runs under
 * `--cpu-prof` and each stall's window is cut out of its profile (profile-window.ts: inclusive frames of ours),
 * for the blocks with >= 20 ms of main-thread CPU; --client-ids sends client-style event ids (see below);
 * --quiet prints the summary line without the trace's lines.
 */
const args = process.argv.slice(2);
const flag = (name: string, dflt: number) =>
  Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const tree = args.find((a) => !a.startsWith("--"));
const profiled = args.includes("--profile");
const threshold = flag("threshold", 30);
const script = tree ? join(tree, "bench/support/server-child.ts") : undefined;
const profDir = mkdtempSync(join(tmpdir(), "events-stalls-"));
const nodeArgs = profiled ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`, "--cpu-prof-interval=500"] : [];
const lines: string[] = [];
const server = await startServer();
try {
  // --client-ids: event ids as the typed client makes them (`ev_<uuid>`, client/ids.ts) instead of the bench's
  // short `b<i>-<k>`. V8's JSON.parse internalizes string values of at most 10 characters, so a flood of short
  // unique ids grows the string table, whose resizes (a rehash of every entry) happen inside a JSON.parse.
  const clientIds = args.includes("--client-ids");
  const body = clientIds ? eventBatchBodyClientIds : eventBatchBody;
  const f = await load(server.url, "/v1/events", body, {
    duration: flag("duration", 10),
    connections: flag("connections", 16),
    apiKey: server.apiKey,
  });
  console.log(
    `events batch of 100: ${f.requestsPerSec.toFixed(0)} req/s (${Math.round(f.requestsPerSec * 100)} events/s) p50 ${f.p50Ms} p99 ${f.p99Ms} max ${f.maxMs} ms, errors ${f.errors} non2xx ${f.non2xx}`,
  );
} finally {
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}
const traced = lines.filter((l) => /^(STALL|GC|LOOP) /.test(l));
if (!args.includes("--quiet")) console.log(traced.join("\n"));
// By the main thread's CPU in each block (the machine is shared: wall time waits for a core too).
const cpus = traced.flatMap((l) => {
  const m = /^STALL \S+ (\d+) ms .*main thread: cpu (\d+) ms/.exec(l);
  return m ? [Number(m[2])] : [];
});
const gcs = traced.flatMap((l) => {
  const m = /^GC \S+ (\S+) ([\d.]+) ms/.exec(l);
  return m ? [Number(m[2])] : [];
});
const over = (ms: number) => cpus.filter((c) => c >= ms).length;
console.log(
  `blocks over ${threshold} ms wall: ${cpus.length}; main-thread CPU in them: >=20 ms ${over(20)}, >=40 ms ${over(40)}, max ${Math.max(0, ...cpus)} ms; GC pauses over 20 ms ${gcs.length}, max ${Math.max(0, ...gcs)} ms; ${traced.filter((l) => l.startsWith("LOOP")).join(" | ")}`,
);
if (profiled) {
  // The main thread's profile (thread 0; workers write theirs beside it).
  const profile = readdirSync(profDir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (profile) {
    const stallsFile = join(profDir, "stalls.txt");
    // Only the blocks the main thread spent mostly on a CPU (>= 20 ms of it): the others waited for a core.
    const onCpu = traced.filter((l) => Number(/main thread: cpu (\d+) ms/.exec(l)?.[1] ?? 0) >= 20);
    writeFileSync(stallsFile, onCpu.join("\n"));
    const window = fileURLToPath(new URL("./profile-window.ts", import.meta.url));
    const { execFileSync } = await import("node:child_process");
    console.log(
      execFileSync(process.execPath, ["--import", "tsx", window, join(profDir, profile), stallsFile, "12"], {
        encoding: "utf8",
        maxBuffer: 64 << 20,
      }),
    );
  } else console.log(`no profile written in ${profDir}`);
}
if (!args.includes("--keep")) rmSync(profDir, { recursive: true, force: true });

/** startBenchServer's child, with its stderr captured (the trace's lines) instead of inherited. */
async function startServer() {
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      "--import",
      "tsx",
      script ?? fileURLToPath(new URL("./server-child.ts", import.meta.url)),
      "loopwise",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOOPWISE_BENCH_STALLS: String(threshold) } },
  );
  let partial = "";
  child.stderr.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
  });
  const ready = await new Promise<{ port: string; apiKey: string }>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /READY (\d+) ?(\S*)/.exec(out);
      if (m) resolve({ port: m[1] as string, apiKey: m[2] ?? "" });
    });
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${ready.port}`, child, apiKey: ready.apiKey };
}
