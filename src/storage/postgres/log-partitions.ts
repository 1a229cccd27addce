import {
  dayOf,
  dayStart,
  type LogRetention,
  type LogTable,
  type RetentionStep,
} from "../../decisions/log-retention.js";
import { inTransaction, type PgClient, type PgPool } from "./pool.js";

/**
 * Day partitions of the log on PostgreSQL (migration 7) and retention by dropping them.
 *
 * - `prepare` creates the partitions of today and the coming days: a new standalone table ATTACHed to its
 *   parent (SHARE UPDATE EXCLUSIVE on the parent: reads and writes go on). When the DEFAULT partition already
 *   holds rows of such a day (no worker ran for a while), PostgreSQL refuses the partition (ATTACH and
 *   `PARTITION OF` both fail with 23514 while the default has rows of the range), and without a move every later
 *   row of that day would land there too. So the rows are moved in the same transaction (`moveFromDefault`),
 *   up to MOVE_LIMIT rows a day; a day with more stays in the default partition (retention deletes it there).
 * - `step` drops one whole expired day (`DROP TABLE` of the partition: no DELETE, no vacuum debt), and once none
 *   is left, deletes in batches what the DEFAULT partition holds before the cutoff day, then the ids of those days
 *   from the narrow key tables (data first: an id is never free while its row exists, so a retry stays a duplicate).
 * DDL runs under a short `lock_timeout`: a drop waiting behind a long scan (an export, an evaluation) gives up and
 * is retried next pass instead of queueing every insert behind its lock. Only whole days before the cutoff's day
 * are deleted, so the log keeps at least the retention (up to a day more).
 */
interface PartitionedTable {
  table: LogTable;
  /** The partition key column. */
  key: string;
  /** The key table holding the global uniqueness of the table's ids, and its time column. */
  ids: { table: string; key: string };
}

const TABLES: readonly PartitionedTable[] = [
  { table: "decisions", key: "ts", ids: { table: "decision_ids", key: "ts" } },
  { table: "rewards", key: "decision_ts", ids: { table: "reward_ids", key: "decision_ts" } },
  { table: "events", key: "ts", ids: { table: "event_ids", key: "ts" } },
];

/** Rows per batched DELETE (default partition, key tables): a few ms each. */
const DELETE_BATCH = 5000;
/**
 * Most default-partition rows of one day moved into its new partition: the move holds ACCESS EXCLUSIVE on the
 * parent, so every read and write of the table waits for it; 50k rows copy in well under a second.
 */
export const MOVE_LIMIT = 50_000;
/** How long DDL waits for its lock before giving up until the next pass. */
const LOCK_TIMEOUT = "2s";

/** `decisions_p20261206`: the partition of a UTC day. */
export function partitionName(table: LogTable, day: number): string {
  const d = new Date(dayStart(day));
  const yyyymmdd = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, "0")}${String(d.getUTCDate()).padStart(2, "0")}`;
  return `${table}_p${yyyymmdd}`;
}

/** The day of a partition's name; undefined for the default partition or a name not made here. */
export function dayOfPartition(table: LogTable, name: string): number | undefined {
  const m = new RegExp(`^${table}_p(\\d{4})(\\d{2})(\\d{2})$`).exec(name);
  if (!m) return undefined;
  return dayOf(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

export class PostgresLogPartitions implements LogRetention {
  constructor(
    private readonly pool: PgPool,
    private readonly schema: string,
    /** Most rows of a day moved out of the default partition (tests lower it). */
    private readonly moveLimit = MOVE_LIMIT,
  ) {}

  /** The day partitions of a table, with their day (the default partition excluded). */
  async partitions(table: LogTable): Promise<{ name: string; day: number; rows: number }[]> {
    const { rows } = await this.pool.query<{ relname: string; reltuples: number }>(
      `SELECT c.relname, c.reltuples FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = to_regclass($1)`,
      [`${this.schema}.${table}`],
    );
    const out: { name: string; day: number; rows: number }[] = [];
    for (const r of rows) {
      const day = dayOfPartition(table, r.relname);
      if (day !== undefined) out.push({ name: r.relname, day, rows: Math.max(0, Number(r.reltuples)) });
    }
    return out.sort((a, b) => a.day - b.day);
  }

  async prepare(now: number, daysAhead: number): Promise<number> {
    let created = 0;
    const today = dayOf(now);
    for (const t of TABLES) {
      const have = new Set((await this.partitions(t.table)).map((p) => p.day));
      for (let day = today; day < today + daysAhead; day++) {
        if (have.has(day)) continue;
        try {
          if (await this.inTransaction((client) => this.createPartition(client, t, day))) created++;
        } catch (error) {
          // A row of that day reached the default partition between the count and the ATTACH (23514), or a lock
          // was busy (55P03): the next pass moves the day's rows and creates it.
          const code = (error as { code?: string }).code;
          if (code !== "23514" && code !== "55P03") throw error;
        }
      }
    }
    return created;
  }

  /**
   * Creates a day's partition, unless another node just did (false), moving the rows the default partition
   * already holds of that day into it (false when there are more than the move limit: they stay there).
   */
  private async createPartition(client: PgClient, t: PartitionedTable, day: number): Promise<boolean> {
    const name = partitionName(t.table, day);
    // Serialises nodes preparing at once; the check below sees a partition another node committed meanwhile.
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`loopwise.partitions:${this.schema}`]);
    const { rows } = await client.query("SELECT 1 FROM pg_class WHERE oid = to_regclass($1)", [
      `${this.schema}.${name}`,
    ]);
    if (rows.length > 0) return false;
    const [lo, hi] = [dayStart(day), dayStart(day + 1)];
    const caught = await this.caughtRows(client, t, lo, hi);
    if (caught > this.moveLimit) return false;
    if (caught > 0) {
      // A move deletes rows from under a concurrent `FOR SHARE` (a reward joining its decision) or UPDATE (an
      // activation), which would then miss the row. ACCESS EXCLUSIVE on the parent first waits for those (up to
      // the lock_timeout), then makes every new statement on the table wait until the commit: they are planned
      // after it and find the row in its new partition.
      await client.query(`LOCK TABLE ${t.table} IN ACCESS EXCLUSIVE MODE`);
    }
    // Created standalone and attached: ATTACH takes SHARE UPDATE EXCLUSIVE on the parent (reads and writes of
    // other days go on); it checks the default partition holds nothing of the day (a row committed since: 23514).
    await client.query(`CREATE TABLE ${name} (LIKE ${t.table} INCLUDING DEFAULTS)`);
    if (caught > 0) await this.moveFromDefault(client, t, name, lo, hi);
    await client.query(`ALTER TABLE ${t.table} ATTACH PARTITION ${name} FOR VALUES FROM (${lo}) TO (${hi})`);
    return true;
  }

  /** How many rows of [lo, hi) the default partition holds, counted up to the move limit + 1. */
  private async caughtRows(client: PgClient, t: PartitionedTable, lo: number, hi: number): Promise<number> {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${t.table}_default WHERE ${t.key} >= $1 AND ${t.key} < $2
       LIMIT ${this.moveLimit + 1}) caught`,
      [lo, hi],
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * Copies the default partition's rows of [lo, hi) into the new standalone table and deletes them there, in the
   * caller's transaction (all or nothing). `seq` is copied as is (the standalone table has no identity: LIKE
   * without INCLUDING IDENTITY), so rows keep their order; the ids in the key tables do not change.
   */
  private async moveFromDefault(client: PgClient, t: PartitionedTable, name: string, lo: number, hi: number) {
    const range = `${t.key} >= $1 AND ${t.key} < $2`;
    await client.query(`INSERT INTO ${name} SELECT * FROM ${t.table}_default WHERE ${range}`, [lo, hi]);
    await client.query(`DELETE FROM ${t.table}_default WHERE ${range}`, [lo, hi]);
  }

  async step(cutoff: number): Promise<RetentionStep> {
    const keepFrom = dayStart(dayOf(cutoff)); // whole days before the cutoff's day go
    for (const t of TABLES) {
      const expired = (await this.partitions(t.table)).find((p) => dayStart(p.day + 1) <= keepFrom);
      if (!expired) continue;
      await this.inTransaction((client) => client.query(`DROP TABLE ${expired.name}`));
      return { deleted: { [t.table]: expired.rows }, partitionsDropped: { [t.table]: 1 }, done: false };
    }
    for (const t of TABLES) {
      const fromDefault = await this.deleteBatch(`${t.table}_default`, t.key, keepFrom);
      if (fromDefault > 0) return { deleted: { [t.table]: fromDefault }, partitionsDropped: {}, done: false };
    }
    for (const t of TABLES) {
      if ((await this.deleteBatch(t.ids.table, t.ids.key, keepFrom)) > 0)
        return { deleted: {}, partitionsDropped: {}, done: false };
    }
    return { deleted: {}, partitionsDropped: {}, done: true };
  }

  /** Deletes up to DELETE_BATCH rows with `key < before` (by ctid: no sort, no long transaction). */
  private async deleteBatch(table: string, key: string, before: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE ${key} < $1 LIMIT ${DELETE_BATCH}))`,
      [before],
    );
    return rowCount ?? 0;
  }

  async oldestRetained(): Promise<Partial<Record<LogTable, number | undefined>>> {
    const out = {} as Record<LogTable, number | undefined>;
    for (const t of TABLES) {
      // From the key tables' time index (one index probe); their ids go after their rows, never before.
      const { rows } = await this.pool.query<{ t: number | null }>(`SELECT min(${t.ids.key}) AS t FROM ${t.ids.table}`);
      out[t.table] = rows[0]?.t ?? undefined;
    }
    return out;
  }

  private async inTransaction<T>(work: (client: PgClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, async (client) => {
      await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      return work(client);
    });
  }
}
