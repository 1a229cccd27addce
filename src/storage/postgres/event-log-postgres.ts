import type { UserEvent } from "../../core/types.js";
import type { EventLog } from "../../events/event-log.js";
import { query } from "./pool.js";
import { type PostgresConnection, PostgresStore } from "./postgres-store.js";

/**
 * The event log on PostgreSQL: append-only, deduplicated by event id (the primary key, so a retry that
 * reaches another node is still a duplicate). Appends are group-committed with the decision log's writes.
 */
export class PostgresEventLog implements EventLog {
  constructor(private readonly store: PostgresConnection) {}

  async append(events: readonly UserEvent[]): Promise<{ inserted: UserEvent[]; duplicates: string[] }> {
    const indices = await this.store.writer.write({ kind: "events", events: [...events] });
    const inserted: UserEvent[] = [];
    const duplicates: string[] = [];
    let next = 0;
    events.forEach((e, i) => {
      if (indices[next] === i) {
        inserted.push(e);
        next++;
      } else duplicates.push(e.eventId);
    });
    return { inserted, duplicates };
  }

  async *scan(
    options: { from?: number; to?: number; userId?: string; batchSize?: number } = {},
  ): AsyncIterable<UserEvent[]> {
    const limit = options.batchSize ?? 5000;
    const params: unknown[] = [
      options.from ?? Number.MIN_SAFE_INTEGER,
      -1,
      options.to ?? Number.MAX_SAFE_INTEGER,
      limit,
    ];
    const byUser = options.userId === undefined ? "" : "AND user_id = $5";
    if (options.userId !== undefined) params.push(options.userId);
    // Keyset pagination on (ts, seq): stable under concurrent appends, no OFFSET rescans.
    for (;;) {
      const { rows } = await query<{ seq: number; ts: number; body: string }>(
        this.store.pool,
        `SELECT seq, ts, body FROM events WHERE (ts, seq) > ($1, $2) AND ts >= $1 AND ts < $3 ${byUser}
         ORDER BY ts, seq LIMIT $4`,
        params,
      );
      if (rows.length === 0) return;
      const last = rows[rows.length - 1] as { seq: number; ts: number };
      params[0] = last.ts;
      params[1] = last.seq;
      yield rows.map((r) => JSON.parse(r.body) as UserEvent);
      if (rows.length < limit) return;
    }
  }

  async count(): Promise<number> {
    const { rows } = await query<{ n: number }>(this.store.pool, "SELECT count(*)::bigint AS n FROM events");
    return rows[0]?.n ?? 0;
  }

  async close(): Promise<void> {}
}

/**
 * For worker threads (recommender training): opens its own small pool on the same schema. The shape
 * (`{ log, store }`, args structured-cloneable) is what recommend/train-in-worker.ts loads.
 */
export async function openPostgresEventLog(
  url: string,
  schema?: string,
): Promise<{ log: PostgresEventLog; store: PostgresStore }> {
  const store = await PostgresStore.open({ url, max: 2, ...(schema === undefined ? {} : { schema }) });
  return { log: new PostgresEventLog(store), store };
}
