import type { QueueLimits } from "../sqlite/log-writer.js";
import { migrate } from "./migrations.js";
import { PgLogWriter } from "./pg-log-writer.js";
import { createPool, type PgPool, type PostgresOptions } from "./pool.js";

/** What the adapters use of a store: reads on the pool, hot writes through the group-commit writer. */
export type PostgresConnection = Pick<PostgresStore, "pool" | "writer">;

/**
 * One PostgreSQL database (schema) shared by the stores of one process, the counterpart of SqliteStore:
 * `pool` serves reads and the low-volume admin writes (policies, rollouts); the hot writes (decisions,
 * activations, rewards, events, items) go through `writer`, which group-commits them (pg-log-writer.ts).
 * `open` migrates the schema before anything is served (migrations.ts).
 */
export class PostgresStore {
  private constructor(
    readonly pool: PgPool,
    readonly schema: string,
    readonly writer: PgLogWriter,
  ) {}

  static async open(options: PostgresOptions & { queue?: QueueLimits }): Promise<PostgresStore> {
    const { pool, schema } = createPool(options);
    try {
      await migrate(pool, schema);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresStore(pool, schema, new PgLogWriter(pool, options.queue));
  }

  ready(): Promise<void> {
    return this.writer.ready();
  }

  health(): { ok: boolean; reason?: string } {
    return this.writer.health();
  }

  /** Commits every queued write, then closes the pool's connections. */
  async close(): Promise<void> {
    await this.writer.close();
    await this.pool.end();
  }
}
