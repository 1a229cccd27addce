import type { Item, UserEvent } from "../../core/types.js";
import type { RewardOutcome, RewardRecord } from "../../decisions/decision-record.js";
import type { EncodedDecision, LogOp, OpOf } from "../../decisions/log-ops.js";
import { storedReward } from "../../decisions/reward-reducer.js";
import { outcomeOf } from "../memory/decision-store-memory.js";
import type { PgClient } from "./pool.js";

/**
 * The log's write SQL on PostgreSQL: applies a batch of write ops (storage/sqlite/log-ops.ts, the same ops
 * the SQLite writer takes) on one connection inside the caller's transaction, in order. Consecutive
 * decision appends become one multi-row `INSERT ... ON CONFLICT DO NOTHING` and consecutive event batches
 * another, so a group commit of N appends costs a few round trips, not N.
 */
export async function applyOps(client: PgClient, ops: readonly LogOp[]): Promise<unknown[]> {
  const results: unknown[] = [];
  for (let i = 0; i < ops.length; ) {
    const kind = (ops[i] as LogOp).kind;
    let j = i + 1;
    if (kind === "decision" || kind === "events") while (j < ops.length && (ops[j] as LogOp).kind === kind) j++;
    const run = ops.slice(i, j);
    if (kind === "decision") results.push(...(await appendDecisions(client, run as OpOf<"decision">[])));
    else if (kind === "events") results.push(...(await appendEvents(client, run as OpOf<"events">[])));
    else results.push(await applyOne(client, run[0] as LogOp));
    i = j;
  }
  return results;
}

async function applyOne(client: PgClient, op: LogOp): Promise<unknown> {
  switch (op.kind) {
    case "decisions":
      // All or none: a duplicate id raises a unique violation and fails the op.
      await insertDecisions(client, op.decisions, false);
      return undefined;
    case "activate":
      return activate(client, op.decisionId, op.at);
    case "reward":
      return addReward(client, op.reward, op.windowMs);
    case "items":
      return upsertItems(client, op.items);
    default:
      throw new Error(`unexpected op ${op.kind}`);
  }
}

/** Rows per INSERT statement: 1000 rows × 7 parameters stays far below PostgreSQL's 65,535 parameters. */
const ROWS_PER_STATEMENT = 1000;

/** `($1::t1, $2::t2, …, 1), …`: typed parameters and the row's ordinal (the insert keeps the batch's order). */
function typedRows(rows: number, types: readonly string[]): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells = types.map((type, c) => `$${r * types.length + c + 1}::${type}`);
    out.push(`(${cells.join(", ")}, ${r})`);
  }
  return out.join(", ");
}

function placeholders(rows: number, columns: number): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells = Array.from({ length: columns }, (_, c) => `$${r * columns + c + 1}`);
    out.push(`(${cells.join(", ")})`);
  }
  return out.join(", ");
}

const DECISION_TYPES = ["text", "bigint", "text", "text", "boolean", "bigint", "bytea"];

/**
 * Claims each decision id in `decision_ids` (migration 7: the id's global uniqueness lives there, the partitioned
 * table can only be unique per day) and inserts the rows whose claim succeeded, in one statement. `keepExisting`:
 * an id claimed before is skipped (ON CONFLICT DO NOTHING; a claim in flight on another node is waited for);
 * otherwise it raises the unique violation and fails the whole statement (all or none).
 */
async function insertDecisions(client: PgClient, decisions: readonly EncodedDecision[], keepExisting: boolean) {
  const inserted = new Set<string>();
  for (let at = 0; at < decisions.length; at += ROWS_PER_STATEMENT) {
    const chunk = decisions.slice(at, at + ROWS_PER_STATEMENT);
    const params: unknown[] = [];
    for (const d of chunk) {
      // Buffers go to the server as binary parameters: the record is not hex-encoded on the wire.
      const bytes = Buffer.from(d.bytes.buffer, d.bytes.byteOffset, d.bytes.byteLength);
      params.push(d.decisionId, d.timestamp, d.userId, d.policyId, d.activated, d.activatedAt, bytes);
    }
    const { rows } = await client.query<{ decision_id: string }>(
      `WITH v (decision_id, ts, user_id, policy_id, activated, activated_at, record, ord) AS (
         VALUES ${typedRows(chunk.length, DECISION_TYPES)}),
       claimed AS (INSERT INTO decision_ids (decision_id, ts) SELECT decision_id, ts FROM v
         ${keepExisting ? "ON CONFLICT (decision_id) DO NOTHING" : ""} RETURNING decision_id)
       INSERT INTO decisions (decision_id, ts, user_id, policy_id, activated, activated_at, record)
       SELECT v.decision_id, v.ts, v.user_id, v.policy_id, v.activated, v.activated_at, v.record
       FROM v JOIN claimed USING (decision_id) ORDER BY v.ord RETURNING decision_id`,
      params,
    );
    for (const r of rows) inserted.add(r.decision_id);
  }
  return inserted;
}

/** Insert-or-keep per op: the first op of an id in the batch is the one offered; later ones resolve false. */
async function appendDecisions(client: PgClient, ops: readonly OpOf<"decision">[]): Promise<boolean[]> {
  const firstOf = new Map<string, number>();
  ops.forEach((op, i) => {
    if (!firstOf.has(op.decision.decisionId)) firstOf.set(op.decision.decisionId, i);
  });
  const offered = [...firstOf.values()].map((i) => (ops[i] as OpOf<"decision">).decision);
  const inserted = await insertDecisions(client, offered, true);
  return ops.map((op, i) => firstOf.get(op.decision.decisionId) === i && inserted.has(op.decision.decisionId));
}

/** Deduplicated by event id across the run: each op resolves the indices of its events that were inserted. */
async function appendEvents(client: PgClient, ops: readonly OpOf<"events">[]): Promise<number[][]> {
  const offered: { op: number; index: number; event: UserEvent }[] = [];
  const seen = new Set<string>();
  ops.forEach((op, o) => {
    op.events.forEach((event, index) => {
      if (seen.has(event.eventId)) return;
      seen.add(event.eventId);
      offered.push({ op: o, index, event });
    });
  });
  const inserted = new Set<string>();
  for (let at = 0; at < offered.length; at += ROWS_PER_STATEMENT) {
    const chunk = offered.slice(at, at + ROWS_PER_STATEMENT);
    const params = chunk.flatMap(({ event }) => [event.eventId, event.userId, event.timestamp, JSON.stringify(event)]);
    // The id is claimed in event_ids (global uniqueness, migration 7), the row goes to its day's partition.
    const { rows } = await client.query<{ event_id: string }>(
      `WITH v (event_id, user_id, ts, body, ord) AS (VALUES ${typedRows(chunk.length, ["text", "text", "bigint", "text"])}),
       claimed AS (INSERT INTO event_ids (event_id, ts) SELECT event_id, ts FROM v
         ON CONFLICT (event_id) DO NOTHING RETURNING event_id)
       INSERT INTO events (event_id, user_id, ts, body) SELECT v.event_id, v.user_id, v.ts, v.body
       FROM v JOIN claimed USING (event_id) ORDER BY v.ord RETURNING event_id`,
      params,
    );
    for (const r of rows) inserted.add(r.event_id);
  }
  const results: number[][] = ops.map(() => []);
  for (const { op, index, event } of offered) if (inserted.has(event.eventId)) results[op]?.push(index);
  return results;
}

/** The time a decision id was logged at (its partition key), from the id table; undefined if never logged. */
export async function decisionTime(client: PgClient, decisionId: string): Promise<number | undefined> {
  const { rows } = await client.query<{ ts: number }>("SELECT ts FROM decision_ids WHERE decision_id = $1", [
    decisionId,
  ]);
  return rows[0]?.ts;
}

async function activate(client: PgClient, decisionId: string, at: number): Promise<boolean> {
  const ts = await decisionTime(client, decisionId);
  if (ts === undefined) return false;
  // First activation wins; activating again (or a retry) changes nothing and still reports the decision exists.
  // `ts` names the one partition to touch.
  await client.query(
    "UPDATE decisions SET activated = true, activated_at = $3 WHERE decision_id = $1 AND ts = $2 AND NOT activated",
    [decisionId, ts, at],
  );
  return true;
}

/**
 * Classification is the shared `storedReward` (decisions/reward-reducer.ts: lateness on the server's arrival
 * time `receivedAt`), on the decision row locked
 * FOR SHARE: an activation committing on another node waits for this transaction, so the reward is judged
 * on one activation state. Duplicates are the reward id's claim in `reward_ids` (any node, any time); the row
 * goes to its decision's day (`decision_ts`), dropped with it by retention.
 */
async function addReward(client: PgClient, reward: RewardRecord, windowMs: number): Promise<RewardOutcome | undefined> {
  const ts = await decisionTime(client, reward.decisionId);
  if (ts === undefined) return undefined;
  const { rows } = await client.query<{ ts: number; activated: boolean; activated_at: number | null }>(
    "SELECT ts, activated, activated_at FROM decisions WHERE decision_id = $1 AND ts = $2 FOR SHARE",
    [reward.decisionId, ts],
  );
  const row = rows[0];
  if (!row) return undefined; // its day was dropped by retention since
  const flags = storedReward(
    reward,
    {
      activated: row.activated,
      timestamp: row.ts,
      ...(row.activated_at === null ? {} : { activatedAt: row.activated_at }),
    },
    windowMs,
  );
  const { rowCount } = await client.query(
    `WITH claimed AS (INSERT INTO reward_ids (reward_id, decision_ts) VALUES ($1::text, $3::bigint)
       ON CONFLICT (reward_id) DO NOTHING RETURNING reward_id)
     INSERT INTO rewards (reward_id, decision_id, decision_ts, ts, value, item_id, type, source, late, ignored, received_at)
     SELECT $1::text, $2::text, $3::bigint, $4::bigint, $5::float8, $6::text, $7::text, $8::text, $9::boolean,
       $10::boolean, $11::bigint FROM claimed`,
    [
      reward.rewardId,
      reward.decisionId,
      ts,
      reward.timestamp,
      reward.value,
      reward.itemId ?? null,
      reward.type,
      reward.source,
      flags.late,
      flags.ignored,
      flags.receivedAt,
    ],
  );
  return rowCount === 0 ? "duplicate" : outcomeOf(flags);
}

async function upsertItems(client: PgClient, items: readonly Item[]): Promise<undefined> {
  // One row per id per statement (ON CONFLICT DO UPDATE may not touch a row twice): the last version wins.
  const latest = [...new Map(items.map((item) => [item.id, item])).values()];
  for (let at = 0; at < latest.length; at += ROWS_PER_STATEMENT) {
    const chunk = latest.slice(at, at + ROWS_PER_STATEMENT);
    await client.query(
      `INSERT INTO items (id, updated_at, body) VALUES ${placeholders(chunk.length, 3)}
       ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body`,
      chunk.flatMap((item) => [item.id, item.updatedAt, JSON.stringify(item)]),
    );
  }
  return undefined;
}
