import { slotsForReward } from "../../decisions/decision-facts.js";
import type { DecisionRecord } from "../../decisions/decision-record.js";
import type { SqliteDb } from "./database.js";
import { FactsWriter, recordOfRow } from "./facts-writer.js";
import { encodeRecord } from "./record-codec.js";

/**
 * The log database's schema, as numbered migrations: `PRAGMA user_version` is the last one applied.
 * A database of any earlier version (0 = written before versioning) is brought up to date when opened,
 * each migration in one IMMEDIATE transaction, so two processes opening an old file migrate it once.
 * Never edit a released migration: add the next number.
 */
interface Migration {
  version: number;
  name: string;
  up: (db: SqliteDb) => void;
}

/** The schema as it was before versioning (version 0 files have some or all of it). */
const BASELINE = `
CREATE TABLE IF NOT EXISTS decisions (
  decision_id TEXT PRIMARY KEY,
  ts INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  policy_id TEXT NOT NULL,
  activated INTEGER NOT NULL,
  activated_at INTEGER,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions(ts);
CREATE TABLE IF NOT EXISTS rewards (
  reward_id TEXT PRIMARY KEY,
  decision_id TEXT NOT NULL REFERENCES decisions(decision_id),
  ts INTEGER NOT NULL,
  value REAL NOT NULL,
  item_id TEXT,
  type TEXT NOT NULL,
  source TEXT NOT NULL,
  late INTEGER NOT NULL,
  ignored INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rewards_decision ON rewards(decision_id);
CREATE TABLE IF NOT EXISTS decision_codes (code INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS decision_facts_blocks (
  first_seq INTEGER PRIMARY KEY,
  last_seq INTEGER NOT NULL,
  min_ts INTEGER NOT NULL,
  max_ts INTEGER NOT NULL,
  decisions INTEGER NOT NULL,
  facts BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS decision_activations (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS slot_rewards (
  seq INTEGER NOT NULL,
  slot INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  arrival INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (seq, slot, ts, arrival)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_user_ts ON events(user_id, ts);
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, updated_at INTEGER NOT NULL, body TEXT NOT NULL);
`;

/** Rows converted per statement round (bounded memory on large logs). */
const BATCH = 1000;

/**
 * Version 2: decision records as compact binary (record-codec.ts) in `record BLOB` instead of a JSON
 * `body`, keeping every rowid (the facts' seq). SQLite cannot change a column's type in place, so the
 * table is rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter, foreign keys off around it).
 * The facts blocks, codes and reward index are rebuilt from the converted records.
 */
function compactDecisions(db: SqliteDb): void {
  db.exec(`CREATE TABLE decisions_compact (
    decision_id TEXT PRIMARY KEY,
    ts INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    policy_id TEXT NOT NULL,
    activated INTEGER NOT NULL,
    activated_at INTEGER,
    record BLOB NOT NULL
  )`);
  const page = db.prepare(
    `SELECT rowid, decision_id, ts, user_id, policy_id, activated, activated_at, body FROM decisions
     WHERE rowid > ? ORDER BY rowid LIMIT ${BATCH}`,
  );
  const insert = db.prepare(
    `INSERT INTO decisions_compact (rowid, decision_id, ts, user_id, policy_id, activated, activated_at, record)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (let after = 0; ; ) {
    const rows = page.all(after) as OldDecisionRow[];
    for (const r of rows) {
      const record = encodeRecord(JSON.parse(r.body) as DecisionRecord);
      insert.run(r.rowid, r.decision_id, r.ts, r.user_id, r.policy_id, r.activated, r.activated_at, record);
    }
    if (rows.length < BATCH) break;
    after = (rows[rows.length - 1] as OldDecisionRow).rowid;
  }
  db.exec(`DROP TABLE decisions;
    ALTER TABLE decisions_compact RENAME TO decisions;
    CREATE INDEX decisions_ts ON decisions(ts);
    DELETE FROM decision_facts_blocks; DELETE FROM decision_codes;
    DELETE FROM decision_activations; DELETE FROM slot_rewards;
    DROP TABLE IF EXISTS decision_facts_meta;`);
  rebuildFacts(db);
}

/** Seals full facts blocks from the log (current activation state) and indexes its counted rewards. */
function rebuildFacts(db: SqliteDb): void {
  const facts = new FactsWriter(db);
  facts.load();
  const rewards = db.prepare(
    `SELECT d.rowid AS seq, d.activated, d.activated_at, d.record, r.rowid AS arrival, r.ts, r.value, r.item_id
     FROM rewards r JOIN decisions d ON d.decision_id = r.decision_id
     WHERE r.late = 0 AND r.ignored = 0 AND r.rowid > ? ORDER BY r.rowid LIMIT ${BATCH}`,
  );
  for (let after = 0; ; ) {
    const rows = rewards.all(after) as CountedRewardRow[];
    for (const r of rows) {
      const slots = slotsForReward(
        recordOfRow(r, { candidateFeatures: false, probabilities: false }),
        r.item_id ?? undefined,
      );
      facts.rewarded(r.seq, slots, { receivedAt: r.ts, value: r.value }, r.arrival);
    }
    if (rows.length < BATCH) break;
    after = (rows[rows.length - 1] as CountedRewardRow).arrival;
  }
}

/**
 * Version 3: the dashboard's per-minute aggregates per policy and rollout arm (app/minute-aggregates.ts)
 * and the audit timeline of admin actions and controller decisions (app/audit-log.ts).
 */
const DASHBOARD_TABLES = `
CREATE TABLE IF NOT EXISTS dashboard_minutes (
  series TEXT NOT NULL,
  minute INTEGER NOT NULL,
  decisions REAL NOT NULL DEFAULT 0,
  rewarded_decisions REAL NOT NULL DEFAULT 0,
  reward_sum REAL NOT NULL DEFAULT 0,
  reward_count REAL NOT NULL DEFAULT 0,
  sessions REAL NOT NULL DEFAULT 0,
  conversions REAL NOT NULL DEFAULT 0,
  revenue REAL NOT NULL DEFAULT 0,
  revenue_sq REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (series, minute)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dashboard_minutes_by_minute ON dashboard_minutes(minute);
CREATE TABLE IF NOT EXISTS admin_audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor_name TEXT,
  actor_scope TEXT,
  action TEXT NOT NULL,
  target_kind TEXT NOT NULL,
  target_id TEXT NOT NULL,
  summary TEXT NOT NULL,
  details TEXT
);
CREATE INDEX IF NOT EXISTS admin_audit_at ON admin_audit(at);
CREATE INDEX IF NOT EXISTS admin_audit_target ON admin_audit(target_kind, target_id, seq);
`;

/**
 * Version 4: rewards get `received_at`, the server's clock when they arrived: the reward join judges lateness
 * and orders rewards on it (src/decisions/reward-reducer.ts). Rows written before carry no arrival time; they
 * were classified on their timestamp, so that is their arrival (received_at = ts), which also keeps the facts'
 * reward index (`slot_rewards.ts`, the join order) valid as it is.
 */
function rewardArrivalTime(db: SqliteDb): void {
  db.exec(`ALTER TABLE rewards ADD COLUMN received_at INTEGER NOT NULL DEFAULT 0;
    UPDATE rewards SET received_at = ts;`);
}

/**
 * Version 5: the events table loses its (user_id, ts) index. Nothing on a hot path reads events by user:
 * the feature store rebuilds from a time-ordered scan (events_ts), training and export scan by time, the
 * features route reads the feature store. A scan filtered by user (`EventLog.scan({ userId })`, tools and
 * tests) reads the time range through events_ts and filters. The index was a random-order B-tree insert per
 * event (user ids do not arrive in order), dirtying a page of it per event in every commit: dropping it cut
 * the log writer thread's CPU per ingested event by about a third (issue 12).
 */
function dropEventsUserIndex(db: SqliteDb): void {
  db.exec("DROP INDEX IF EXISTS events_user_ts");
}

/**
 * Version 6: events without the unique index on `event_id`. Event ids are deduplicated over a bounded window
 * in memory on the log writer's thread instead (event-inserts.ts, config `ingest.dedupWindow`): with random ids
 * (what clients send) the index dirtied a leaf page per event in every commit, each written to the WAL and
 * copied again by the checkpoint; ingest ran ~4.5x slower than with ordered ids (issue 12). SQLite cannot drop
 * a column constraint's index, so the table is rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter),
 * every row keeping its `seq` (the rowid: the rebuild of the window after a restart reads the last rows by it,
 * and a time scan breaks ties on it). The old constraint means no duplicates exist to clean.
 */
function eventsWithoutUniqueIds(db: SqliteDb): void {
  db.exec(`CREATE TABLE events_windowed (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    body TEXT NOT NULL
  );
  INSERT INTO events_windowed (seq, event_id, user_id, ts, body)
    SELECT seq, event_id, user_id, ts, body FROM events ORDER BY seq;
  DROP TABLE events;
  ALTER TABLE events_windowed RENAME TO events;
  CREATE INDEX events_ts ON events(ts);`);
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "baseline schema", up: (db) => db.exec(BASELINE) },
  { version: 2, name: "compact decision records", up: compactDecisions },
  { version: 3, name: "dashboard aggregates and audit timeline", up: (db) => db.exec(DASHBOARD_TABLES) },
  { version: 4, name: "reward arrival time", up: rewardArrivalTime },
  { version: 5, name: "events without the (user, time) index", up: dropEventsUserIndex },
  { version: 6, name: "event ids deduplicated over a window, not by a unique index", up: eventsWithoutUniqueIds },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Applies every migration newer than the file's `user_version`; returns the versions applied. */
export function migrate(db: SqliteDb, upTo = SCHEMA_VERSION): number[] {
  const applied: number[] = [];
  const version = () => db.pragma("user_version", { simple: true }) as number;
  for (const m of MIGRATIONS) {
    if (m.version > upTo || version() >= m.version) continue;
    // Table rebuilds need foreign keys off, and the pragma is a no-op inside a transaction.
    const fk = db.pragma("foreign_keys", { simple: true }) as number;
    db.pragma("foreign_keys = OFF");
    try {
      db.transaction(() => {
        if (version() >= m.version) return; // another process got here first
        m.up(db);
        db.pragma(`user_version = ${m.version}`);
        applied.push(m.version);
      }).immediate();
    } finally {
      db.pragma(`foreign_keys = ${fk ? "ON" : "OFF"}`);
    }
  }
  return applied;
}

interface OldDecisionRow {
  rowid: number;
  decision_id: string;
  ts: number;
  user_id: string;
  policy_id: string;
  activated: number;
  activated_at: number | null;
  body: string;
}

interface CountedRewardRow {
  seq: number;
  activated: number;
  activated_at: number | null;
  record: Uint8Array;
  arrival: number;
  ts: number;
  value: number;
  item_id: string | null;
}
