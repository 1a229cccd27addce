import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import type { BasePolicy } from "../src/bandit/base-policy.js";
import type { PolicyStore } from "../src/bandit/policy-store.js";
import { snapshotInSlices } from "../src/duties/sliced-policy-snapshot.js";
import { benchPostgresUrl } from "./support/bench-postgres.js";
import { type LongestBlock, longestBlock, trainedDefaultPolicy } from "./support/longest-block.js";
import { mainThreadTimes } from "./support/thread-cpu.js";

/**
 * `npm run bench -- policy-store-postgres [--arms=2000] [--rounds=3] [--store-from=DIR]`: the default policy
 * (hybrid, armDims 64) with `arms` learned arms saved to and loaded from the PostgreSQL policy store, as the
 * learner duty saves it every `persistEvery` checkpoints: the stored value's bytes, the save's and the load's
 * wall time and main-thread CPU (the snapshot's sliced copy included), and the longest event-loop block of each;
 * and a load followed by the policy's restore, as a learner taking over a lease does (the checkout's
 * `restoreInTurns` where it has one, else `restorePolicy` in one turn). With `--store-from=DIR` the store
 * of another checkout (e.g. the base of an A/B, /tmp/base-s25) is measured too, alternated with this one in the
 * same process, each on a schema of its own migrated by its own code. Needs LOOPWISE_BENCH_POSTGRES_URL (or
 * LOOPWISE_TEST_POSTGRES_URL); the schemas are dropped at the end.
 */
interface StoreModules {
  label: string;
  restore(snapshot: unknown): Promise<unknown>;
  open(url: string, schema: string): Promise<{ store: PolicyStore; close(): Promise<void> }>;
}

interface Round {
  storedBytes: number;
  /** pg_column_size: as stored (after any TOAST compression). */
  columnBytes: number;
  save: Timed;
  load: Timed;
  loadAndRestore: Timed;
}

interface Timed {
  wallMs: number;
  cpuMs: number;
  longest: LongestBlock;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const arms = Number(flag("arms") ?? 2000);
  const rounds = Number(flag("rounds") ?? 3);
  const url = benchPostgresUrl("policy-store-postgres");
  if (!url) return { skipped: true };
  const trees = [await storeFrom(resolve("."), "this tree")];
  const other = flag("store-from");
  if (other) trees.push(await storeFrom(resolve(other), other));
  const policy = trainedDefaultPolicy(arms, "pg-bench");
  const out: Record<string, Round[]> = {};
  const suffix = `${process.pid}_${Date.now() % 1e6}`;
  const opened = await Promise.all(trees.map((t, i) => t.open(url, `lw_bench_pgsnap_${suffix}_${i}`)));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [i, tree] of trees.entries()) {
        const round = await measure(opened[i]!.store, tree, url, `lw_bench_pgsnap_${suffix}_${i}`, policy, r);
        out[tree.label] = [...(out[tree.label] ?? []), round];
        console.log(`  ${tree.label} round ${r + 1}: ${describeRound(round)}`);
      }
    }
  } finally {
    for (const o of opened) await o.close();
    await dropSchemas(url, `lw_bench_pgsnap_${suffix}_`, trees.length);
  }
  console.log(`default policy with ${arms} arms on PostgreSQL (medians of ${rounds}):`);
  for (const [label, xs] of Object.entries(out)) console.log(`  ${label}: ${describeRound(median(xs))}`);
  return { arms, rounds, results: out };
}

/**
 * Each operation twice: once alone for its wall time and main-thread CPU, once beside the ticker that finds its
 * longest block (the ticker's own turns would count as the operation's CPU).
 */
async function measure(
  store: PolicyStore,
  tree: StoreModules,
  url: string,
  schema: string,
  policy: BasePolicy,
  r: number,
) {
  // Copied in slices and handed over, as the learner saves: the figures are the store's, not the copy's.
  const save = async () => store.save(await snapshotInSlices(policy), 1000 + r, { handOver: true });
  const load = () => store.load(policy.id);
  const saved = { ...(await timed(save)), longest: await longestBlock(save) };
  const loaded = { ...(await timed(load)), longest: await longestBlock(load) };
  const loadAndRestore = async () => tree.restore((await load())!.snapshot);
  const restored = { ...(await timed(loadAndRestore)), longest: await longestBlock(loadAndRestore) };
  const { storedBytes, columnBytes } = await storedSize(url, schema, policy.id);
  return { storedBytes, columnBytes, save: saved, load: loaded, loadAndRestore: restored };
}

async function timed(work: () => Promise<unknown>): Promise<Omit<Timed, "longest">> {
  const cpu0 = mainThreadTimes()?.cpuNs ?? 0;
  const t0 = performance.now();
  await work();
  return { wallMs: performance.now() - t0, cpuMs: ((mainThreadTimes()?.cpuNs ?? 0) - cpu0) / 1e6 };
}

/** The stored snapshot's size: its JSON text (before migration 9) and its binary parts (since). */
async function storedSize(url: string, schema: string, id: string) {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const parts = await client.query(
      "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'policy_snapshot_parts'",
      [schema],
    );
    const partsSum = (f: string) =>
      parts.rowCount ? `(SELECT coalesce(sum(${f}(bytes)), 0) FROM policy_snapshot_parts WHERE id = $1)` : "0";
    const size = await client.query<{ stored: number; column: number }>(
      `SELECT (coalesce(octet_length(snapshot), 0) + ${partsSum("octet_length")})::float8 AS stored,
              (coalesce(pg_column_size(snapshot), 0) + ${partsSum("pg_column_size")})::float8 AS column
       FROM policy_snapshots WHERE id = $1`,
      [id],
    );
    return { storedBytes: size.rows[0]?.stored ?? 0, columnBytes: size.rows[0]?.column ?? 0 };
  } finally {
    await client.end();
  }
}

/** The PostgreSQL policy store of the checkout at `root`, opened the way that checkout opens it. */
async function storeFrom(root: string, label: string): Promise<StoreModules> {
  const mod = (path: string) => import(pathToFileURL(`${root}/src/storage/postgres/${path}`).href);
  const { PostgresStore } = await mod("postgres-store.ts");
  const { PostgresPolicyStore } = await mod("policy-store-postgres.ts");
  const sliced = await import(pathToFileURL(`${root}/src/duties/sliced-policy-snapshot.ts`).href);
  const types = await import(pathToFileURL(`${root}/src/bandit/policy-types.ts`).href);
  return {
    label,
    restore: async (snapshot) =>
      sliced.restoreInTurns ? sliced.restoreInTurns(snapshot) : types.restorePolicy(snapshot),
    open: async (url, schema) => {
      const connection = await PostgresStore.open({ url, schema, max: 4 });
      return { store: new PostgresPolicyStore(connection) as PolicyStore, close: () => connection.close() };
    },
  };
}

async function dropSchemas(url: string, prefix: string, n: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (let i = 0; i < n; i++) await client.query(`DROP SCHEMA IF EXISTS ${prefix}${i} CASCADE`);
  await client.end();
}

function median(xs: Round[]): Round {
  const mid = <T>(f: (x: Round) => number, of: (x: Round) => T): T => {
    const sorted = [...xs].sort((a, b) => f(a) - f(b));
    return of(sorted[Math.floor(sorted.length / 2)]!);
  };
  return {
    storedBytes: mid(
      (x) => x.storedBytes,
      (x) => x.storedBytes,
    ),
    columnBytes: mid(
      (x) => x.columnBytes,
      (x) => x.columnBytes,
    ),
    save: mid(
      (x) => x.save.cpuMs,
      (x) => x.save,
    ),
    load: mid(
      (x) => x.load.cpuMs,
      (x) => x.load,
    ),
    loadAndRestore: mid(
      (x) => x.loadAndRestore.cpuMs,
      (x) => x.loadAndRestore,
    ),
  };
}

function describeRound(r: Round): string {
  const t = (x: Timed) =>
    `${x.wallMs.toFixed(1)} ms wall, ${x.cpuMs.toFixed(1)} ms main-thread CPU, longest block ${x.longest.wallMs.toFixed(1)} ms (CPU ${x.longest.cpuMs.toFixed(1)})`;
  const mb = (b: number) => (b / 1e6).toFixed(2);
  return `${mb(r.storedBytes)} MB stored (${mb(r.columnBytes)} MB as stored); save ${t(r.save)}; load ${t(r.load)}; load + restore ${t(r.loadAndRestore)}`;
}
