import {
  type DecisionFacts,
  FactsBuilder,
  type FactsScanOptions,
  slotsForReward,
} from "../../decisions/decision-facts.js";
import type { DecisionRecord, StoredReward } from "../../decisions/decision-record.js";
import { emptyFacts, factsInRange, gatherFacts } from "../../decisions/gather-facts.js";
import type { SqliteDb } from "./database.js";
import { decodeFacts, encodeFacts } from "./facts-codec.js";

/**
 * The narrow facts of the decision log, kept beside the JSON bodies so offline evaluation reads columns
 * instead of parsing a million records (see decisions/decision-facts.ts).
 *
 * - Appends write nothing extra. Once `blockSize` decisions follow the last sealed one, the append that
 *   noticed seals them, in rowid (append) order, into one columnar block (`decision_facts_blocks`):
 *   their bodies are parsed once, there, instead of at every scan. Reading a block is one BLOB and
 *   typed-array views. The unsealed tail (< blockSize decisions) is parsed at scan time.
 * - Activation after append is a sparse overlay (`decision_activations`); counted rewards (not late, not
 *   ignored) are narrow rows per matched slot (`slot_rewards`), clustered in the join's order (decision,
 *   slot, timestamp, arrival = the `rewards` rowid) so a scan reads them sequentially.
 * - `decision_codes` codes item and policy ids as integers.
 * A database written before these tables is sealed, and its counted rewards indexed, when first opened.
 */
const SCHEMA = `
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
CREATE TABLE IF NOT EXISTS decision_facts_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

/** Blocks read per scanned batch (one transaction). */
const BLOCKS_PER_BATCH = 32;

interface BodyRow {
  rowid: number;
  activated: number;
  activated_at: number | null;
  body: string;
}

export class SqliteDecisionFacts {
  private readonly stmts;
  private readonly codes = new Map<string, number>();
  /** Last sealed seq as this process knows it (a hint; `seal` re-reads it). */
  private sealedThrough: number;

  constructor(
    private readonly db: SqliteDb,
    readonly blockSize = 512,
  ) {
    db.exec(SCHEMA);
    this.stmts = {
      code: db.prepare("SELECT code FROM decision_codes WHERE value = ?").pluck(),
      addCode: db.prepare("INSERT OR IGNORE INTO decision_codes (value) VALUES (?)"),
      maxCode: db.prepare("SELECT coalesce(max(code), -1) FROM decision_codes").pluck(),
      sealed: db.prepare("SELECT coalesce(max(last_seq), 0) FROM decision_facts_blocks").pluck(),
      bodies: db.prepare(
        "SELECT rowid, activated, activated_at, body FROM decisions WHERE rowid > ? ORDER BY rowid LIMIT ?",
      ),
      tail: db.prepare(
        `SELECT rowid, activated, activated_at, body FROM decisions
         WHERE rowid > ? AND rowid <= ? AND ts >= ? AND ts < ? ORDER BY rowid`,
      ),
      block: db.prepare(
        "INSERT INTO decision_facts_blocks (first_seq, last_seq, min_ts, max_ts, decisions, facts) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      // The blob is loaded only for blocks that overlap the time range.
      blocks: db.prepare(
        `SELECT last_seq, min_ts, max_ts, CASE WHEN max_ts >= ? AND min_ts < ? THEN facts END AS facts
         FROM decision_facts_blocks WHERE last_seq >= ? AND first_seq <= ? ORDER BY first_seq LIMIT ${BLOCKS_PER_BATCH}`,
      ),
      activation: db.prepare("INSERT OR IGNORE INTO decision_activations (seq, at) VALUES (?, ?)"),
      reward: db.prepare("INSERT INTO slot_rewards (seq, slot, ts, arrival, value) VALUES (?, ?, ?, ?, ?)"),
      activations: db.prepare("SELECT seq, at FROM decision_activations WHERE seq >= ? AND seq <= ?").raw(),
      rewards: db
        .prepare(
          "SELECT seq, slot, value FROM slot_rewards WHERE seq >= ? AND seq <= ? ORDER BY seq, slot, ts, arrival",
        )
        .raw(),
      maxSeq: db.prepare("SELECT coalesce(max(rowid), 0) FROM decisions").pluck(),
    };
    this.sealedThrough = this.stmts.sealed.get() as number;
    this.upgrade();
  }

  /**
   * Called inside the write transaction after decision `seq` was inserted: seals a block when one is
   * due. Returns nothing; codes learnt go to `fresh`, to `remember` once the transaction committed.
   */
  appended(seq: number, fresh: Map<string, number>): void {
    if (seq - this.sealedThrough < this.blockSize) return;
    try {
      // A savepoint of its own: a failed seal never fails the append (the next one retries).
      this.db.transaction(() => this.seal(fresh))();
    } catch {
      this.sealedThrough = this.stmts.sealed.get() as number;
    }
  }

  /** Codes learnt in a committed transaction (codes of a rolled-back one are never cached). */
  remember(fresh: Map<string, number>): void {
    for (const [id, c] of fresh) this.codes.set(id, c);
  }

  /** Records an activation after append (the decision was appended not activated). */
  activated(seq: number, at: number): void {
    this.stmts.activation.run(seq, at);
  }

  /** Records a counted reward (not late, not ignored; `arrival` is its `rewards` rowid) for the slots it matches. */
  rewarded(
    seq: number,
    slots: readonly number[],
    reward: Pick<StoredReward, "timestamp" | "value">,
    arrival: number,
  ): void {
    for (const k of slots) this.stmts.reward.run(seq, k, reward.timestamp, arrival, reward.value);
  }

  /** Seals the next `blockSize` unsealed decisions into one block, if there are that many. */
  private seal(fresh: Map<string, number>): boolean {
    const after = this.stmts.sealed.get() as number;
    const rows = this.stmts.bodies.all(after, this.blockSize) as BodyRow[];
    this.sealedThrough = after;
    if (rows.length < this.blockSize) return false;
    const facts = factsOfBodies(rows, (id) => this.code(id, fresh));
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const t of facts.timestamp) [lo, hi] = [Math.min(lo, t), Math.max(hi, t)];
    const last = (rows[rows.length - 1] as BodyRow).rowid;
    this.stmts.block.run((rows[0] as BodyRow).rowid, last, lo, hi, facts.decisions, encodeFacts(facts));
    this.sealedThrough = last;
    return true;
  }

  private code(id: string, fresh: Map<string, number>): number {
    const known = this.codes.get(id) ?? fresh.get(id);
    if (known !== undefined) return known;
    this.stmts.addCode.run(id);
    const c = this.stmts.code.get(id) as number;
    fresh.set(id, c);
    return c;
  }

  /** Batches of facts in append order, with activations and counted rewards, as of the scan's start. */
  async *scan(options: FactsScanOptions = {}): AsyncIterable<DecisionFacts> {
    const from = options.from ?? Number.MIN_SAFE_INTEGER;
    const to = options.to ?? Number.MAX_SAFE_INTEGER;
    const maxSeq = this.stmts.maxSeq.get() as number;
    let cursor = Number.MIN_SAFE_INTEGER;
    for (;;) {
      // Each batch is read in one transaction, so a concurrent seal never shows a decision twice or never.
      const step = this.db.transaction(() => this.readBatch(cursor, maxSeq, from, to))();
      for (const facts of step.parts) if (facts.decisions > 0) yield facts;
      if (step.next === undefined) return;
      cursor = step.next;
    }
  }

  /** Up to BLOCKS_PER_BATCH sealed blocks from `cursor` on, or (none left) the unsealed tail. */
  private readBatch(cursor: number, maxSeq: number, from: number, to: number) {
    const blocks = this.stmts.blocks.all(from, to, cursor, maxSeq) as BlockRow[];
    if (blocks.length === 0) {
      const after = Math.max(cursor - 1, this.stmts.sealed.get() as number);
      const rows = this.stmts.tail.all(after, maxSeq, from, to) as BodyRow[];
      return { parts: this.overlay([this.tailFacts(rows)]), next: undefined };
    }
    const parts: DecisionFacts[] = [];
    for (const b of blocks) {
      if (b.facts === null) continue; // outside the time range
      let facts = decodeFacts(b.facts);
      // Only blocks that straddle the range are filtered row by row.
      if (!(b.min_ts >= from && b.max_ts < to)) facts = factsInRange(facts, from, to);
      // A block sealed after the scan started may hold decisions appended since: not this scan's.
      if (b.last_seq > maxSeq)
        facts = gatherFacts(
          facts,
          indicesWhere(facts.seq, (s) => s <= maxSeq),
        );
      parts.push(facts);
    }
    return { parts: this.overlay(parts), next: (blocks[blocks.length - 1] as BlockRow).last_seq + 1 };
  }

  /**
   * Facts of unsealed decisions, parsed from their bodies. Ids not coded yet get codes of this scan only
   * (above every code in use), so nothing is written by a read.
   */
  private tailFacts(rows: BodyRow[]): DecisionFacts {
    if (rows.length === 0) return emptyFacts();
    const local = new Map<string, number>();
    let next = (this.stmts.maxCode.get() as number) + 1;
    return factsOfBodies(rows, (id) => {
      let c = this.codes.get(id) ?? local.get(id) ?? (this.stmts.code.get(id) as number | undefined);
      if (c === undefined) c = next++;
      local.set(id, c);
      return c;
    });
  }

  /** Adds later activations and counted rewards to parts in ascending seq order (one query each). */
  private overlay(parts: DecisionFacts[]): DecisionFacts[] {
    const live = parts.filter((p) => p.decisions > 0);
    if (live.length === 0) return live;
    const lo = (live[0] as DecisionFacts).seq[0] as number;
    const last = live[live.length - 1] as DecisionFacts;
    const hi = last.seq[last.decisions - 1] as number;
    const at = new Map<number, number>();
    for (const [seq, t] of this.stmts.activations.all(lo, hi) as [number, number][]) at.set(seq, t);
    const rows = this.stmts.rewards.all(lo, hi) as [number, number, number][];
    let r = 0;
    for (const f of live) {
      if (at.size > 0) activate(f, at);
      r = attachRewards(f, rows, r);
    }
    return live;
  }

  /** Seals the decisions of a database written before these tables, and indexes its counted rewards. */
  private upgrade(): void {
    const done = this.db.prepare("SELECT value FROM decision_facts_meta WHERE key = 'backfilled'").pluck();
    if (done.get() !== undefined) return;
    // IMMEDIATE: two processes opening an old database at once upgrade it once.
    this.db
      .transaction(() => {
        if (done.get() !== undefined) return;
        const fresh = new Map<string, number>();
        while (this.seal(fresh)) {}
        const rewards = this.db.prepare(
          `SELECT d.rowid AS seq, d.body, r.rowid AS arrival, r.ts, r.value, r.item_id FROM rewards r
           JOIN decisions d ON d.decision_id = r.decision_id WHERE r.late = 0 AND r.ignored = 0 ORDER BY r.rowid`,
        );
        for (const r of rewards.all() as BackfillReward[]) {
          const slots = slotsForReward(JSON.parse(r.body) as DecisionRecord, r.item_id ?? undefined);
          this.rewarded(r.seq, slots, { timestamp: r.ts, value: r.value }, r.arrival);
        }
        this.db.prepare("INSERT INTO decision_facts_meta (key, value) VALUES ('backfilled', 1)").run();
        this.remember(fresh);
      })
      .immediate();
  }
}

/** Facts of decision rows (their current activation state included), as the full path would read them. */
function factsOfBodies(rows: readonly BodyRow[], code: (id: string) => number): DecisionFacts {
  const builder = new FactsBuilder(code, true);
  for (const row of rows) {
    const record = JSON.parse(row.body) as DecisionRecord;
    record.activated = row.activated === 1;
    if (row.activated_at !== null) record.activatedAt = row.activated_at;
    builder.add(record, row.rowid);
  }
  return builder.finish();
}

function activate(f: DecisionFacts, at: Map<number, number>): void {
  for (let d = 0; d < f.decisions; d++) {
    const t = at.get(f.seq[d] as number);
    if (t !== undefined && Number.isNaN(f.windowStart[d])) f.windowStart[d] = t;
  }
}

/**
 * Sets `f`'s rewards from `rows` (seq, slot, value; sorted in the join's order) starting at `from`;
 * returns the index of the first row past `f`'s last decision.
 */
function attachRewards(f: DecisionFacts, rows: readonly [number, number, number][], from: number): number {
  const slots = f.position.length;
  const start = new Int32Array(slots + 1);
  const last = f.seq[f.decisions - 1] as number;
  let end = from;
  let d = 0;
  const owner: number[] = [];
  for (; end < rows.length; end++) {
    const [seq, k] = rows[end] as [number, number, number];
    if (seq > last) break;
    while (d < f.decisions && (f.seq[d] as number) < seq) d++;
    const s = (f.slotStart[d] as number) + k;
    const mine = d < f.decisions && f.seq[d] === seq && s < (f.slotStart[d + 1] as number);
    owner.push(mine ? s : -1);
    if (mine) start[s + 1] = (start[s + 1] as number) + 1;
  }
  for (let s = 0; s < slots; s++) start[s + 1] = (start[s + 1] as number) + (start[s] as number);
  const values = new Float64Array(start[slots] as number);
  const fill = start.slice(0, slots);
  owner.forEach((s, i) => {
    if (s >= 0) values[(fill[s] as number)++] = (rows[from + i] as [number, number, number])[2];
  });
  f.rewardStart = start;
  f.rewardValue = values;
  return end;
}

interface BlockRow {
  last_seq: number;
  min_ts: number;
  max_ts: number;
  facts: Buffer | null;
}

interface BackfillReward {
  seq: number;
  arrival: number;
  body: string;
  ts: number;
  value: number;
  item_id: string | null;
}

function indicesWhere(values: Float64Array, keep: (v: number) => boolean): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    if (keep(v)) out.push(i);
  });
  return out;
}
