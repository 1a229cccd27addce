/**
 * One in-process ingest run for `npm run bench -- ingest` (bench/ingest.bench.ts), in its own process so its
 * CPU time is its own: an engine on a fresh data dir (SQLite, the log writer in its thread), `connections`
 * concurrent callers each ingesting batches of 100 events (bench/support/rank-requests.ts eventBatchBody,
 * fresh event ids) parsed from JSON text as the server would, each awaiting its answer before the next.
 * Prints one JSON line: CPU ms per batch (all threads; the main thread's and the busiest other thread's,
 * the log writer's, apart) and events/s (wall).
 *   [LOOPWISE_INGEST_TREE=DIR] node --import tsx bench/support/ingest-child.ts [batches] [connections]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { pino } from "pino";
import type * as EngineModule from "../../src/app/engine.js";
import { newEventId } from "../../src/client/ids.js";
import type * as RequestsModule from "./rank-requests.js";

// The engine of LOOPWISE_INGEST_TREE (an A/B's other checkout), else of this tree.
const tree = process.env.LOOPWISE_INGEST_TREE ?? fileURLToPath(new URL("../..", import.meta.url));
const load = <T>(path: string) => import(pathToFileURL(join(tree, path)).href) as Promise<T>;
const { createEngine } = await load<typeof EngineModule>("src/app/engine.ts");
const { eventBatchBody } = await load<typeof RequestsModule>("bench/support/rank-requests.ts");

const batches = Number(process.argv[2] ?? 2400);
const connections = Number(process.argv[3] ?? 16);
const dataDir = mkdtempSync(join(tmpdir(), "loopwise-ingest-"));
const engine = await createEngine({ dataDir, logger: pino({ level: "warn" }) });
const texts = Array.from({ length: 1000 }, (_, i) => JSON.stringify(eventBatchBody(i)));
let next = 0;
/**
 * LOOPWISE_INGEST_IDS=client: event ids as our client makes them (`ev_<uuid>`, client/ids.ts: long, random), instead of the
 * bench's short, nearly ordered `b<i>-<k>` (what the log's `event_id` index and V8's string table see differs).
 */
const clientIds = process.env.LOOPWISE_INGEST_IDS === "client";
/** Batch i's text with its event ids made fresh (b<i>-<k>), so no batch is a duplicate of another. */
const body = (): unknown => {
  const i = next++;
  const text = texts[i % texts.length] as string;
  if (clientIds) return JSON.parse(text.replace(/"eventId":"b[0-9]+-[0-9]+"/g, () => `"eventId":"${newEventId()}"`));
  return JSON.parse(text.replaceAll(`"eventId":"b${i % texts.length}-`, `"eventId":"b${i}-`));
};
const caller = async (n: number) => {
  for (let k = 0; k < n; k++) await engine.ingestEvents(body());
};
const pass = (n: number) => Promise.all(Array.from({ length: connections }, () => caller(Math.ceil(n / connections))));
try {
  await pass(Math.min(960, batches)); // warm-up: JIT, the writer's first pages
  const threadsBefore = threadCpuMs();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await pass(batches);
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  const done = Math.ceil(batches / connections) * connections;
  const threads = threadSplit(threadsBefore);
  console.log(
    JSON.stringify({
      cpuMsPerBatch: (used.user + used.system) / 1000 / done,
      mainThreadCpuMsPerBatch: threads.main / done,
      busiestOtherThreadCpuMsPerBatch: threads.busiestOther / done,
      eventsPerSec: (done * 100) / seconds,
    }),
  );
} finally {
  await engine.close();
  rmSync(dataDir, { recursive: true, force: true });
}

/** CPU ms on a core so far per thread of this process (Linux schedstat), by thread id. */
function threadCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      out.set(Number(tid), Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]) / 1e6);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** The main thread's CPU ms since `before` (its tid is the pid), and the busiest other thread's. */
function threadSplit(before: Map<number, number>): { main: number; busiestOther: number } {
  let main = 0;
  let busiestOther = 0;
  for (const [tid, ms] of threadCpuMs()) {
    const used = ms - (before.get(tid) ?? 0);
    if (tid === process.pid) main = used;
    else busiestOther = Math.max(busiestOther, used);
  }
  return { main, busiestOther };
}
