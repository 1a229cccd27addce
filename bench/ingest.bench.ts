import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `npm run bench -- ingest [--batches=2400] [--connections=16] [--rounds=3] [--ab=OTHER_TREE]`: the engine's
 * ingest of batches of 100 events in process (no HTTP: the JSON parse is included, fastify is not), each run
 * in a fresh child process (bench/support/ingest-child.ts): CPU ms per batch over all threads (the log
 * writer's included) and events/s. With --ab, this tree's child and another checkout's (e.g. `git worktree
 * add /tmp/base <commit>` with a node_modules symlink) run in turn, `rounds` times; the figure to quote is the
 * median ratio of CPU per batch (this ÷ other): on a shared machine wall throughput drifts with the load,
 * CPU per batch much less (issue 12). `LOOPWISE_INGEST_IDS=client` sends event ids as our client makes them
 * (`ev_<uuid>`) instead of the default short, nearly ordered ones (bench/support/ingest-child.ts): stop 26 measured
 * 23-26k events/s with them against 103-119k, the log writer's thread at ~6.5x the CPU per batch.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string, dflt: number) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const batches = flag("batches", 2400);
  const connections = flag("connections", 16);
  const rounds = flag("rounds", 3);
  const thisTree = join(fileURLToPath(new URL(".", import.meta.url)), "..");
  const otherTree = args.find((a) => a.startsWith("--ab="))?.slice(5);
  const trees: [string, string][] = [["this", thisTree]];
  if (otherTree) trees.push(["other", otherTree]);
  const runs: Record<string, Figures[]> = Object.fromEntries(trees.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so neither always runs after the other's disk writes.
    const order = round % 2 === 0 ? trees : [...trees].reverse();
    for (const [name, tree] of order) {
      const figures = child(tree, batches, connections);
      (runs[name] as Figures[]).push(figures);
      const split =
        figures.mainThreadCpuMsPerBatch === undefined
          ? ""
          : ` (main thread ${figures.mainThreadCpuMsPerBatch.toFixed(3)}, busiest other thread ${figures.busiestOtherThreadCpuMsPerBatch?.toFixed(3)})`;
      console.log(
        `round ${round + 1} ${name.padEnd(5)} ${figures.cpuMsPerBatch.toFixed(3)} CPU ms per batch of 100${split}, ${Math.round(figures.eventsPerSec)} events/s`,
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const summary: Record<string, unknown> = {
    cpuMsPerBatch: median((runs.this as Figures[]).map((f) => f.cpuMsPerBatch)),
    eventsPerSec: Math.round(median((runs.this as Figures[]).map((f) => f.eventsPerSec))),
  };
  if (otherTree) {
    const pairs = (runs.this as Figures[]).map((f, i) => [f, (runs.other as Figures[])[i] as Figures] as const);
    summary.cpuPerBatchRatio = Number(median(pairs.map(([m, o]) => m.cpuMsPerBatch / o.cpuMsPerBatch)).toFixed(3));
    summary.eventsPerSecRatio = Number(median(pairs.map(([m, o]) => m.eventsPerSec / o.eventsPerSec)).toFixed(3));
    const threadRatio = (key: "mainThreadCpuMsPerBatch" | "busiestOtherThreadCpuMsPerBatch") =>
      Number(median(pairs.map(([m, o]) => (m[key] ?? Number.NaN) / (o[key] ?? Number.NaN))).toFixed(3));
    summary.mainThreadCpuRatio = threadRatio("mainThreadCpuMsPerBatch");
    summary.busiestOtherThreadCpuRatio = threadRatio("busiestOtherThreadCpuMsPerBatch");
  }
  console.log("median:", summary);
  return { options: { batches, connections, rounds, otherTree }, runs, ...summary };
}

interface Figures {
  cpuMsPerBatch: number;
  /** The main thread's and the busiest other thread's (the log writer's) CPU ms per batch. */
  mainThreadCpuMsPerBatch?: number;
  busiestOtherThreadCpuMsPerBatch?: number;
  eventsPerSec: number;
}

function child(tree: string, batches: number, connections: number): Figures {
  // This tree's child file, loading `tree`'s engine (the other checkout may predate the file).
  const script = join(fileURLToPath(new URL(".", import.meta.url)), "support/ingest-child.ts");
  const out = execFileSync(process.execPath, ["--import", "tsx", script, String(batches), String(connections)], {
    cwd: tree,
    env: { ...process.env, LOOPWISE_INGEST_TREE: tree },
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").at(-1) as string) as Figures;
}
