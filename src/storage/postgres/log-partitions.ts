import {
  dayOf,
  dayStart,
  type LogRetention,
  type LogTable,
  type RetentionStep,
} from "../../decisions/log-retention.js";
import { asStorageError, type PgClient, type PgPool } from "./pool.js";

/**
 * Day partitions of the log on PostgreSQL (migration 7) and retention by dropping them.
 *
 * - `prepare` creates the partitions of the coming days ahead of time: a new standalone table ATTACHed to its
 *   parent (SHARE UPDATE EXCLUSIVE on the parent: reads and writes go on). A day whose rows already went to the
 *   DEFAULT partition (no worker ran for days, old imports) gets no partition: its rows stay there.
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
          // A row of that day reached the default partition meanwhile (23514), or the lock was busy (55P03):
          // the day is left to the default partition or to the next pass.
          const code = (error as { code?: string }).code;
          if (code !== "23514" && code !== "55P03") throw error;
        }
      }
    }
    return created;
  }

  /**
   * Creates a day's partition, unless another node just did or the default partition already holds rows of that
   * day (false). Those rows are not moved: a move deletes them from under a concurrent `FOR SHARE` (a reward
   * joining its decision) or UPDATE (an activation), which would then miss the row. They stay in the default
   * partition until retention deletes them; days created ahead never have any.
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
    const caught = await client.query(
      `SELECT 1 FROM ${t.table}_default WHERE ${t.key} >= $1 AND ${t.key} < $2 LIMIT 1`,
      [lo, hi],
    );
    if (caught.rows.length > 0) return false;
    // Created standalone and attached: ATTACH takes SHARE UPDATE EXCLUSIVE on the parent (reads and writes of
    // other days go on); it checks the default partition holds nothing of the day (a row committed since: 23514).
    await client.query(`CREATE TABLE ${name} (LIKE ${t.table} INCLUDING DEFAULTS)`);
    await client.query(`ALTER TABLE ${t.table} ATTACH PARTITION ${name} FOR VALUES FROM (${lo}) TO (${hi})`);
    return true;
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
    let client: PgClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw asStorageError(error);
    }
    try {
      await client.query("BEGIN");
      await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      const result = await work(client);
      await client.query("COMMIT");
      client.release();
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      client.release();
      throw asStorageError(error);
    }
  }
}
