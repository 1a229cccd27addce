import { type DecisionFacts, FactsBuilder, type FactsScanOptions } from "../../decisions/decision-facts.js";
import { emptyFacts, factsInRange, gatherFacts } from "../../decisions/gather-facts.js";
import type { SqliteDb } from "./database.js";
import { decodeFacts } from "./facts-codec.js";
import { recordOfRow } from "./facts-writer.js";

/**
 * The narrow facts of the decision log, read as columns so offline evaluation never decodes a million
 * records (see decisions/decision-facts.ts). The log writer builds them (facts-writer.ts):
 *
 * - `decision_facts_blocks`: columnar blocks of consecutive decisions (rowid = append order), sealed as
 *   they are appended. Reading a block is one BLOB and typed-array views. The unsealed tail (fewer than
 *   a block) is decoded from its records at scan time.
 * - Activation after append is a sparse overlay (`decision_activations`); counted rewards (not late, not
 *   ignored) are narrow rows per matched slot (`slot_rewards`), clustered in the join's order (decision,
 *   slot, timestamp, arrival = the `rewards` rowid) so a scan reads them sequentially.
 * - `decision_codes` codes item and policy ids as integers.
 */
/** Blocks read per scanned batch (one transaction). */
const BLOCKS_PER_BATCH = 32;

interface TailRow {
  rowid: number;
  activated: number;
  activated_at: number | null;
  record: Uint8Array;
}

/** Reads the facts; this connection writes nothing (the writer's connection does). */
export class SqliteDecisionFacts {
  private readonly stmts;
  /** Committed codes are never changed: safe to cache. */
  private readonly codes = new Map<string, number>();

  constructor(private readonly db: SqliteDb) {
    this.stmts = {
      code: db.prepare("SELECT code FROM decision_codes WHERE value = ?").pluck(),
      maxCode: db.prepare("SELECT coalesce(max(code), -1) FROM decision_codes").pluck(),
      sealed: db.prepare("SELECT coalesce(max(last_seq), 0) FROM decision_facts_blocks").pluck(),
      tail: db.prepare(
        `SELECT rowid, activated, activated_at, record FROM decisions
         WHERE rowid > ? AND rowid <= ? AND ts >= ? AND ts < ? ORDER BY rowid`,
      ),
      // The blob is loaded only for blocks that overlap the time range.
      blocks: db.prepare(
        `SELECT last_seq, min_ts, max_ts, CASE WHEN max_ts >= ? AND min_ts < ? THEN facts END AS facts
         FROM decision_facts_blocks WHERE last_seq >= ? AND first_seq <= ? ORDER BY first_seq LIMIT ${BLOCKS_PER_BATCH}`,
      ),
      activations: db.prepare("SELECT seq, at FROM decision_activations WHERE seq >= ? AND seq <= ?").raw(),
      rewards: db
        .prepare(
          "SELECT seq, slot, value FROM slot_rewards WHERE seq >= ? AND seq <= ? ORDER BY seq, slot, ts, arrival",
        )
        .raw(),
      maxSeq: db.prepare("SELECT coalesce(max(rowid), 0) FROM decisions").pluck(),
    };
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
      const rows = this.stmts.tail.all(after, maxSeq, from, to) as TailRow[];
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
   * Facts of unsealed decisions, decoded from their records. Ids not coded yet get codes of this scan
   * only (above every code in use), so nothing is written by a read.
   */
  private tailFacts(rows: TailRow[]): DecisionFacts {
    if (rows.length === 0) return emptyFacts();
    const local = new Map<string, number>();
    let next = (this.stmts.maxCode.get() as number) + 1;
    const builder = new FactsBuilder((id) => {
      let c = this.codes.get(id) ?? local.get(id);
      if (c !== undefined) return c;
      c = this.stmts.code.get(id) as number | undefined;
      if (c !== undefined) this.codes.set(id, c);
      else {
        c = next++;
        local.set(id, c);
      }
      return c;
    });
    for (const row of rows) builder.add(recordOfRow(row), row.rowid);
    return builder.finish();
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

function indicesWhere(values: Float64Array, keep: (v: number) => boolean): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    if (keep(v)) out.push(i);
  });
  return out;
}
