import pg from "pg";
import { LoopwiseError } from "../../core/errors.js";

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

export interface PostgresOptions {
  /** A libpq URL, e.g. postgres://user:pass@host:5432/db. */
  url: string;
  /** Schema the tables live in (created when missing); several deployments can share one database. */
  schema?: string;
  /** Connections at most (default 10): one for the log writer's commits, the rest for reads and admin writes. */
  max?: number;
  /** Waiting longer than this for a connection fails the operation (default 5 s): PostgreSQL down never hangs. */
  connectTimeoutMs?: number;
  /** A statement running longer is cancelled by the server (default 60 s). */
  statementTimeoutMs?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * bigint (int8) columns hold epoch milliseconds and sequence numbers, all below 2^53: read them as numbers,
 * not the strings pg returns by default. Per pool, so other pg users in the process are unaffected.
 */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
};

/**
 * A connection pool on one schema. The pool replaces a connection that broke (a restarted server,
 * pg_terminate_backend) on the next checkout, so after an outage the next operation simply reconnects.
 * An idle connection that breaks emits 'error' on the pool: handled here (unhandled, it would crash the
 * process), the pool drops that connection.
 */
export function createPool(options: PostgresOptions): { pool: PgPool; schema: string } {
  const schema = options.schema ?? "public";
  if (!SCHEMA_NAME.test(schema)) {
    throw new LoopwiseError("VALIDATION_FAILED", `postgres schema "${schema}" must match ${SCHEMA_NAME}`, [
      { path: "storage.postgresSchema", message: `must match ${SCHEMA_NAME}` },
    ]);
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    statement_timeout: options.statementTimeoutMs ?? 60_000,
    keepAlive: true,
    application_name: "loopwise",
    options: `-c search_path=${schema}`,
    types,
  });
  pool.on("error", () => {
    // An idle connection died (server restart, terminated backend): the pool discards it; nothing to do.
  });
  return { pool, schema };
}

/** SQLSTATE classes meaning the connection or the server is gone, not that the statement was wrong. */
const UNAVAILABLE_SQLSTATE = /^(08|57P|53)/;
const UNAVAILABLE_ERRNO = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND"]);

/** True when an error means "PostgreSQL is unreachable or going away" (retry later), not a bad statement. */
export function isUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e?.code === "string" && (UNAVAILABLE_SQLSTATE.test(e.code) || UNAVAILABLE_ERRNO.has(e.code))) return true;
  const message = typeof e?.message === "string" ? e.message : "";
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(
    message,
  );
}

/**
 * True when a row was routed to a DEFAULT partition by a statement that started while another transaction was
 * ATTACHing the partition of that row's range (log-partitions.ts, a day caught up late): PostgreSQL rechecks the
 * default partition's constraint after waiting for the ATTACH and refuses the row (23514). The same statement
 * run again routes the row to the new partition, so this is a retry, not a bad row. (A CHECK constraint's
 * violation has the same SQLSTATE and another message: not retried.)
 */
export function isPartitionRoutingRace(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  return e?.code === "23514" && typeof e.message === "string" && /violates partition constraint/.test(e.message);
}

/** Connection failures become STORAGE_UNAVAILABLE (HTTP 503 + Retry-After); other errors pass through. */
export function asStorageError(error: unknown): unknown {
  if (error instanceof LoopwiseError || !isUnavailable(error)) return error;
  return new LoopwiseError(
    "STORAGE_UNAVAILABLE",
    `PostgreSQL is unreachable (${(error as Error).message}); the write was not acknowledged, retry it`,
  );
}

/** Runs a query, mapping connection failures to STORAGE_UNAVAILABLE. */
export async function query<R extends pg.QueryResultRow>(
  on: PgPool | PgClient,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  try {
    return await on.query<R>(sql, params);
  } catch (error) {
    throw asStorageError(error);
  }
}

/**
 * Runs `work` in one transaction on a pooled connection: COMMIT when it resolves; when it throws, ROLLBACK and the
 * connection discarded (it may have failed mid-statement). Connection failures become STORAGE_UNAVAILABLE; the
 * caller's own errors (a fence refusal) pass through unchanged.
 */
export async function inTransaction<T>(pool: PgPool, work: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await pool.connect().catch((error: unknown) => {
    throw asStorageError(error);
  });
  try {
    await client.query("BEGIN");
    const out = await work(client);
    await client.query("COMMIT");
    client.release();
    return out;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    client.release(true);
    throw asStorageError(error);
  }
}
