import { asStorageError, type PgClient, type PgPool } from "./pool.js";

/**
 * The PostgreSQL schema as numbered migrations; `schema_version` holds one row per migration applied.
 * All pending migrations run in one transaction under a transaction-scoped advisory lock keyed by the
 * schema name, so two nodes starting together apply them once (the second waits, then sees them applied).
 * Never edit a released migration: add the next number (a new column is `ALTER TABLE ... ADD COLUMN`).
 *
 * Times are epoch milliseconds in bigint; `seq` identity columns give the append order that breaks ties
 * on time (log order is (ts, seq), as SQLite's (ts, rowid)). Decision records are the compact binary of
 * storage/sqlite/record-codec.ts in bytea: one format for both stores.
 */
interface Migration {
  version: number;
  name: string;
  sql: string;
}

const BASELINE = `
CREATE TABLE decisions (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  decision_id text PRIMARY KEY,
  ts bigint NOT NULL,
  user_id text NOT NULL,
  policy_id text NOT NULL,
  activated boolean NOT NULL,
  activated_at bigint,
  record bytea NOT NULL
);
CREATE INDEX decisions_ts_seq ON decisions (ts, seq);
CREATE TABLE rewards (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  reward_id text PRIMARY KEY,
  decision_id text NOT NULL REFERENCES decisions (decision_id),
  ts bigint NOT NULL,
  value double precision NOT NULL,
  item_id text,
  type text NOT NULL,
  source text NOT NULL,
  late boolean NOT NULL,
  ignored boolean NOT NULL
);
CREATE INDEX rewards_decision ON rewards (decision_id);
CREATE TABLE events (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  event_id text PRIMARY KEY,
  user_id text NOT NULL,
  ts bigint NOT NULL,
  body text NOT NULL
);
CREATE INDEX events_ts_seq ON events (ts, seq);
CREATE INDEX events_user_ts_seq ON events (user_id, ts, seq);
CREATE TABLE items (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  id text PRIMARY KEY,
  updated_at bigint NOT NULL,
  body text NOT NULL
);
CREATE TABLE policy_snapshots (
  id text PRIMARY KEY,
  type text NOT NULL,
  version integer NOT NULL,
  updates bigint NOT NULL,
  created_at bigint NOT NULL,
  saved_at bigint NOT NULL,
  snapshot text NOT NULL
);
CREATE TABLE policy_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE rollouts (id text PRIMARY KEY, created_at bigint NOT NULL, doc text NOT NULL);
CREATE TABLE rollout_audit (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rollout_id text NOT NULL,
  at bigint NOT NULL,
  doc text NOT NULL
);
CREATE INDEX rollout_audit_by_rollout ON rollout_audit (rollout_id, seq);
CREATE TABLE rollout_stats (rollout_id text PRIMARY KEY, doc text NOT NULL);
`;

/** Version 2: the dashboard's per-minute aggregates and the audit timeline (as SQLite's migration 3). */
const DASHBOARD_TABLES = `
CREATE TABLE dashboard_minutes (
  series text NOT NULL,
  minute bigint NOT NULL,
  decisions double precision NOT NULL DEFAULT 0,
  rewarded_decisions double precision NOT NULL DEFAULT 0,
  reward_sum double precision NOT NULL DEFAULT 0,
  reward_count double precision NOT NULL DEFAULT 0,
  sessions double precision NOT NULL DEFAULT 0,
  conversions double precision NOT NULL DEFAULT 0,
  revenue double precision NOT NULL DEFAULT 0,
  revenue_sq double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (series, minute)
);
CREATE INDEX dashboard_minutes_by_minute ON dashboard_minutes (minute);
CREATE TABLE admin_audit (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at bigint NOT NULL,
  actor_name text,
  actor_scope text,
  action text NOT NULL,
  target_kind text NOT NULL,
  target_id text NOT NULL,
  summary text NOT NULL,
  details text
);
CREATE INDEX admin_audit_at ON admin_audit (at);
CREATE INDEX admin_audit_target ON admin_audit (target_kind, target_id, seq);
`;

/**
 * Version 3: rewards get `received_at`, the server's clock when they arrived: the reward join judges lateness
 * and orders rewards on it (decisions/reward-reducer.ts). Rows written before were classified on their
 * timestamp, so that is their arrival.
 */
const REWARD_ARRIVAL = `
ALTER TABLE rewards ADD COLUMN received_at bigint;
UPDATE rewards SET received_at = ts;
ALTER TABLE rewards ALTER COLUMN received_at SET NOT NULL;
`;

/** Version 4: a rollout's counters as a snapshot plus one change document a tick (rollout/tracker-save.ts). */
const ROLLOUT_STATS_CHANGES = `
CREATE TABLE rollout_stats_changes (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rollout_id text NOT NULL,
  doc text NOT NULL
);
CREATE INDEX rollout_stats_changes_by_rollout ON rollout_stats_changes (rollout_id, seq);
`;

/**
 * Version 5: the rollout duty's writes are guarded by its lease's fencing token (issue 13). `rollout_fences`
 * holds per lease the newest token that wrote and the duty's checkpoint (stream positions, ids seen), written
 * in the transaction that writes its counters; a write whose token is below the fence is refused
 * (`WHERE fence <= $token`). `rollouts.fence` is the token that last wrote a rollout (0: an admin's write).
 */
const ROLLOUT_FENCES = `
CREATE TABLE rollout_fences (name text PRIMARY KEY, fence bigint NOT NULL, checkpoint text);
ALTER TABLE rollouts ADD COLUMN fence bigint NOT NULL DEFAULT 0;
`;

/**
 * Version 6: the API keys (SHA-256 hashes only, as SQLite's keys.db), shared by every API node of a
 * deployment so a key created, rotated or revoked once holds everywhere (storage/postgres/api-key-store-postgres.ts).
 */
const API_KEYS = `
CREATE TABLE api_keys (
  name text PRIMARY KEY,
  scope text NOT NULL CHECK (scope IN ('client', 'read', 'admin')),
  hash bytea NOT NULL UNIQUE,
  created_at bigint NOT NULL,
  rotated_at bigint
);
`;

/**
 * Version 7: the log's big tables partitioned by day (declarative RANGE partitioning on epoch ms, UTC days), so
 * retention drops whole days (storage/postgres/log-partitions.ts) instead of running long DELETEs.
 *
 * - decisions by `ts` (the server's clock at rank); rewards by `decision_ts`, their decision's `ts`, so a day
 *   of decisions and its rewards go together and a reward retry always lands in its first attempt's partition;
 *   events by `ts` (their time, within ingest.maxPast/maxFuture of the server's clock).
 * - A unique constraint on a partitioned table must include the partition key, so the ids that exactly-once
 *   depends on keep their global uniqueness in narrow unpartitioned key tables (`decision_ids`, `reward_ids`,
 *   `event_ids`: id → partition time). Every insert claims its id there first (`ON CONFLICT DO NOTHING`; a
 *   concurrent claim on another node waits on the primary key), and lookups by id read the time there to
 *   touch one partition only. Retention drops a day's partitions, then deletes that day's keys in batches.
 * - A DEFAULT partition catches rows of days without a partition (data imported from long ago, days before
 *   this migration beyond the ones it creates); creating a day's partition moves its rows out of it.
 * Existing rows are copied into day partitions with their `seq` (log order) kept.
 */
const PARTITIONED_LOG = `
ALTER TABLE rewards RENAME TO rewards_v6;
ALTER TABLE decisions RENAME TO decisions_v6;
ALTER TABLE events RENAME TO events_v6;
CREATE TABLE decision_ids (decision_id text PRIMARY KEY, ts bigint NOT NULL);
CREATE TABLE reward_ids (reward_id text PRIMARY KEY, decision_ts bigint NOT NULL);
CREATE TABLE event_ids (event_id text PRIMARY KEY, ts bigint NOT NULL);
CREATE TABLE decisions (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  decision_id text NOT NULL,
  ts bigint NOT NULL,
  user_id text NOT NULL,
  policy_id text NOT NULL,
  activated boolean NOT NULL,
  activated_at bigint,
  record bytea NOT NULL
) PARTITION BY RANGE (ts);
CREATE TABLE rewards (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  reward_id text NOT NULL,
  decision_id text NOT NULL,
  decision_ts bigint NOT NULL,
  ts bigint NOT NULL,
  value double precision NOT NULL,
  item_id text,
  type text NOT NULL,
  source text NOT NULL,
  late boolean NOT NULL,
  ignored boolean NOT NULL,
  received_at bigint NOT NULL
) PARTITION BY RANGE (decision_ts);
CREATE TABLE events (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  event_id text NOT NULL,
  user_id text NOT NULL,
  ts bigint NOT NULL,
  body text NOT NULL
) PARTITION BY RANGE (ts);
CREATE TABLE decisions_default PARTITION OF decisions DEFAULT;
CREATE TABLE rewards_default PARTITION OF rewards DEFAULT;
CREATE TABLE events_default PARTITION OF events DEFAULT;
DO $$
DECLARE
  t text;
  d bigint;
BEGIN
  FOR t, d IN
    SELECT 'decisions', ts / 86400000 FROM decisions_v6 UNION SELECT 'rewards', ts / 86400000 FROM decisions_v6
    UNION SELECT 'events', ts / 86400000 FROM events_v6
  LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
      t || '_p' || to_char(to_timestamp(d * 86400) AT TIME ZONE 'UTC', 'YYYYMMDD'), t, d * 86400000, (d + 1) * 86400000);
  END LOOP;
END $$;
INSERT INTO decisions (seq, decision_id, ts, user_id, policy_id, activated, activated_at, record) OVERRIDING SYSTEM VALUE
  SELECT seq, decision_id, ts, user_id, policy_id, activated, activated_at, record FROM decisions_v6;
INSERT INTO rewards (seq, reward_id, decision_id, decision_ts, ts, value, item_id, type, source, late, ignored, received_at)
  OVERRIDING SYSTEM VALUE
  SELECT r.seq, r.reward_id, r.decision_id, d.ts, r.ts, r.value, r.item_id, r.type, r.source, r.late, r.ignored, r.received_at
  FROM rewards_v6 r JOIN decisions_v6 d USING (decision_id);
INSERT INTO events (seq, event_id, user_id, ts, body) OVERRIDING SYSTEM VALUE
  SELECT seq, event_id, user_id, ts, body FROM events_v6;
INSERT INTO decision_ids SELECT decision_id, ts FROM decisions_v6;
INSERT INTO reward_ids SELECT r.reward_id, d.ts FROM rewards_v6 r JOIN decisions_v6 d USING (decision_id);
INSERT INTO event_ids SELECT event_id, ts FROM events_v6;
SELECT setval(pg_get_serial_sequence('decisions', 'seq'), coalesce((SELECT max(seq) FROM decisions_v6), 0) + 1, false);
SELECT setval(pg_get_serial_sequence('rewards', 'seq'), coalesce((SELECT max(seq) FROM rewards_v6), 0) + 1, false);
SELECT setval(pg_get_serial_sequence('events', 'seq'), coalesce((SELECT max(seq) FROM events_v6), 0) + 1, false);
DROP TABLE rewards_v6;
DROP TABLE decisions_v6;
DROP TABLE events_v6;
CREATE INDEX decision_ids_ts ON decision_ids (ts);
CREATE INDEX reward_ids_decision_ts ON reward_ids (decision_ts);
CREATE INDEX event_ids_ts ON event_ids (ts);
ALTER TABLE decisions ADD PRIMARY KEY (decision_id, ts);
CREATE INDEX decisions_ts_seq ON decisions (ts, seq);
ALTER TABLE rewards ADD PRIMARY KEY (reward_id, decision_ts);
CREATE INDEX rewards_decision ON rewards (decision_id, decision_ts);
CREATE INDEX events_ts_seq ON events (ts, seq);
CREATE INDEX events_user_ts_seq ON events (user_id, ts, seq);
`;

/**
 * Version 8: the `dashboard-fold` duty's attribution state (duties/dashboard-fold-checkpoint.ts): per lease, a
 * full (seq 0) and the deltas written after it (seq 1, 2, ...), replaced and appended in the fenced checkpoint's
 * transaction (storage/postgres/dashboard-store-postgres.ts).
 */
const FOLD_ATTRIBUTION = `
CREATE TABLE fold_attribution (lease text NOT NULL, seq integer NOT NULL, bytes bytea NOT NULL, PRIMARY KEY (lease, seq));
`;

/**
 * Version 9: policy snapshots in the binary form (bandit/snapshot-binary.ts, "LWS" 1: raw little-endian doubles,
 * symmetric matrices as their packed triangle), as parts of at most 1 MiB in `policy_snapshot_parts`, the
 * policy's row saying how many (policy-snapshot-parts.ts says why parts). A row keeps its JSON `snapshot` text
 * until its policy is next saved (then parts, the text NULL): no stored snapshot is rewritten here, so the
 * migration holds its lock for an instant; a row holds exactly one of the two forms (the CHECK).
 */
const BINARY_POLICY_SNAPSHOTS = `
ALTER TABLE policy_snapshots ALTER COLUMN snapshot DROP NOT NULL;
ALTER TABLE policy_snapshots ADD COLUMN parts integer;
ALTER TABLE policy_snapshots ADD CONSTRAINT policy_snapshots_one_form CHECK ((snapshot IS NULL) <> (parts IS NULL));
CREATE TABLE policy_snapshot_parts (
  id text NOT NULL REFERENCES policy_snapshots (id) ON DELETE CASCADE,
  part integer NOT NULL,
  bytes bytea NOT NULL,
  PRIMARY KEY (id, part)
);
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "baseline schema", sql: BASELINE },
  { version: 2, name: "dashboard aggregates and audit timeline", sql: DASHBOARD_TABLES },
  { version: 3, name: "reward arrival time", sql: REWARD_ARRIVAL },
  { version: 4, name: "rollout counters as snapshot and changes", sql: ROLLOUT_STATS_CHANGES },
  { version: 5, name: "fenced rollout duty writes", sql: ROLLOUT_FENCES },
  { version: 6, name: "api keys", sql: API_KEYS },
  { version: 7, name: "log partitioned by day, ids in key tables", sql: PARTITIONED_LOG },
  { version: 8, name: "dashboard fold attribution checkpoints", sql: FOLD_ATTRIBUTION },
  { version: 9, name: "binary policy snapshots", sql: BINARY_POLICY_SNAPSHOTS },
];

/** The newest version (the last migration's number: numbers are unique and ascending, not necessarily dense). */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** Applies every migration newer than the schema's version; returns the versions applied. */
export async function migrate(pool: PgPool, schema: string, upTo = SCHEMA_VERSION): Promise<number[]> {
  let client: PgClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw asStorageError(error);
  }
  const applied: number[] = [];
  try {
    await client.query("BEGIN");
    // Keyed by schema: deployments (and test files) in other schemas of the database do not wait on each other.
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`loopwise.migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`SET LOCAL search_path = ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_version (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_version");
    const current = rows[0]?.v ?? 0;
    for (const m of MIGRATIONS) {
      if (m.version <= current || m.version > upTo) continue;
      await client.query(m.sql);
      await client.query("INSERT INTO schema_version (version, name) VALUES ($1, $2)", [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    client.release(true);
    throw asStorageError(error);
  }
  client.release();
  return applied;
}
