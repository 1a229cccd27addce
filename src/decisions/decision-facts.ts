import type { LoggedSlot, StoredReward } from "./decision-record.js";
import { countedInArrivalOrder } from "./reward-join.js";

/**
 * The narrow per-decision and per-slot facts of a decision log, as columns: what offline evaluation
 * reads when no target needs the context (timestamps, activation, candidates as codes, logged action,
 * position, propensity, the logger's distribution, and the counted rewards per slot). Stores hand these
 * out from `DecisionStore.scanFacts` without parsing or copying whole records; `joinFacts` applies the
 * reward join (src/decisions/reward-join.ts) to them.
 *
 * Layout: decision d owns slots [slotStart[d], slotStart[d+1]) and candidate codes
 * [candidateStart[d], candidateStart[d+1]); slot s owns the logger's probabilities
 * [probabilityStart[s], probabilityStart[s+1]) (one per candidate) and its counted rewards
 * [rewardStart[s], rewardStart[s+1]) in arrival order (`receivedAt`, ties in log order; reward-reducer.ts). Codes stand for item and policy ids:
 * within one scan, equal codes mean equal ids.
 */
export interface DecisionFacts {
  decisions: number;
  /** Append order within the store; the log order is (timestamp, seq). */
  seq: Float64Array;
  timestamp: Float64Array;
  /** Start of the reward window (activatedAt ?? timestamp) when activated; NaN while not activated. */
  windowStart: Float64Array;
  policy: Int32Array;
  policyVersion: Int32Array;
  slotStart: Int32Array;
  candidateStart: Int32Array;
  candidates: Int32Array;
  position: Int32Array;
  /** Index into the decision's candidates of the slot's item. */
  action: Int32Array;
  item: Int32Array;
  propensity: Float64Array;
  /** 0 when the slot's record had no `probabilities` array. */
  hasProbabilities: Uint8Array;
  probabilityStart: Int32Array;
  probabilities: Float64Array;
  rewardStart: Int32Array;
  rewardValue: Float64Array;
}

/**
 * What the facts read of one decision: a `DecisionRecord` has it all, and the log writer reads exactly this from
 * a record's bytes without decoding the rest (storage/sqlite/record-codec.ts `readFactsSource`).
 */
export interface FactsSource {
  timestamp: number;
  activated: boolean;
  activatedAt?: number;
  policy: { id: string; version: number };
  candidates: readonly { id: string }[];
  slots: readonly FactsSlot[];
}

export interface FactsSlot {
  position: number;
  itemId: string;
  index: number;
  propensity: number;
  /**
   * The logged distribution: a plain array in a record, the decoded Float64 values in a view, or
   * `VALUES_NOT_READ` (a distribution is there, one value per candidate, its values kept elsewhere).
   */
  probabilities?: ArrayLike<number>;
}

/**
 * A slot's `probabilities` when the slot has a distribution of one value per candidate whose values the reader
 * did not decode, because its owner keeps them in another form (the SQLite log writer keeps each distribution's
 * coded bytes for the block it seals: storage/sqlite/facts-writer.ts). `FactsBuilder.add` then counts the values
 * and marks the slot as having them, but leaves their place in `probabilities` unwritten: such facts are only
 * for an owner that never reads that column.
 */
export const VALUES_NOT_READ: Float64Array = new Float64Array(0);

/** Options for `scanFacts`: decisions with timestamp in [from, to). */
export interface FactsScanOptions {
  from?: number;
  to?: number;
}

/**
 * Mirrors reward-join.ts: a reward names its slot by item id; without one it is about the slot at
 * position 0. (The contract test checks `joinFacts` against `joinRewards` on the same log.)
 */
export function rewardMatchesSlot(itemId: string | undefined, slot: Pick<LoggedSlot, "position" | "itemId">): boolean {
  return itemId === undefined ? slot.position === 0 : itemId === slot.itemId;
}

/** Indices of the slots a reward counts for (usually one). */
export function slotsForReward(
  decision: { slots: readonly Pick<LoggedSlot, "position" | "itemId">[] },
  itemId: string | undefined,
): number[] {
  const out: number[] = [];
  decision.slots.forEach((slot, k) => {
    if (rewardMatchesSlot(itemId, slot)) out.push(k);
  });
  return out;
}

/**
 * Numbers as the full path would see them. With `json`, the record went through JSON first (SQLite
 * bodies): non-finite numbers became null, which arithmetic reads as 0.
 */
function num(v: unknown, json: boolean): number {
  if (json && typeof v === "number" && !Number.isFinite(v)) return 0;
  if (json && v === null) return 0;
  return Number(v);
}

/**
 * A typed column that grows by doubling: numbers stored unboxed as they are added, its buffer kept across
 * `clear` (the log writer's builder fills 51,200 candidate codes per block of 512 decisions: plain arrays
 * regrown per block were new large-object pages, page faults and GC on the writer's thread each time).
 */
class Column<T extends Float64Array | Int32Array | Uint8Array> {
  private a: T;
  length = 0;

  constructor(private readonly make: (n: number) => T) {
    this.a = make(64);
  }

  push(v: number): void {
    if (this.length === this.a.length) {
      const grown = this.make(this.a.length * 2);
      grown.set(this.a);
      this.a = grown;
    }
    this.a[this.length++] = v;
  }

  /** The values so far, copied (a result outlives the builder's next block). */
  copy(): T {
    return this.a.slice(0, this.length) as T;
  }
}

const f64 = () => new Column((n) => new Float64Array(n));
const i32 = () => new Column((n) => new Int32Array(n));

/** Accumulates decisions into `DecisionFacts` (typed columns while building, copied out at the end). */
export class FactsBuilder {
  private readonly d = { seq: f64(), ts: f64(), win: f64(), pol: i32() };
  private readonly polVersion = i32();
  private readonly slotStart = i32();
  private readonly candStart = i32();
  private readonly cands = i32();
  private readonly s = { pos: i32(), act: i32(), item: i32(), prop: f64() };
  private readonly hasProbs = new Column((n) => new Uint8Array(n));
  private readonly probStart = i32();
  /** The distributions, the bulk of a block (slots × candidates): a growing Float64Array, not a boxed array. */
  private probs = new Float64Array(1024);
  private probCount = 0;
  private readonly rewardStart = i32();
  private readonly rewards = f64();

  /**
   * @param code maps an item or policy id to its code
   * @param json numbers as they read back from the record's JSON body (see `num`)
   */
  constructor(
    private readonly code: (id: string) => number,
    private readonly json = false,
  ) {
    this.clear();
  }

  get size(): number {
    return this.d.seq.length;
  }

  /**
   * Empties the builder for the next block, keeping its buffers (megabytes at 100 candidates × 10 slots × 512
   * decisions): the log writer seals a block every 512 decisions, and growing the distributions' buffer anew
   * each time copied it ~10 times on its thread, the last time 4 MB inside one request's commit. A `finish()`
   * result's `probabilities` is a view on that buffer: use it before clearing.
   */
  clear(): void {
    const { d, s } = this;
    for (const c of [d.seq, d.ts, d.win, d.pol, this.polVersion, this.cands, s.pos, s.act, s.item, s.prop])
      c.length = 0;
    for (const c of [this.hasProbs, this.rewards]) c.length = 0;
    for (const c of [this.slotStart, this.candStart, this.probStart, this.rewardStart]) {
      c.length = 0;
      c.push(0);
    }
    this.probCount = 0;
  }

  /** Adds one decision; `rewards` are its stored rewards (flags included), in log order. */
  add(record: FactsSource, seq: number, rewards: readonly StoredReward[] = []): void {
    const { d, s, json } = this;
    d.seq.push(seq);
    d.ts.push(record.timestamp);
    d.win.push(record.activated ? (record.activatedAt ?? record.timestamp) : Number.NaN);
    d.pol.push(this.code(record.policy.id));
    this.polVersion.push(record.policy.version);
    const k = record.candidates.length;
    for (const c of record.candidates) this.cands.push(this.code(c.id));
    this.candStart.push(this.cands.length);
    // Counted rewards in the join's order (reward-reducer.ts): by arrival, ties in log order.
    const counted = rewards.length === 0 ? rewards : countedInArrivalOrder(rewards);
    for (const slot of record.slots) {
      s.pos.push(slot.position);
      s.act.push(slot.index);
      s.item.push(this.code(slot.itemId));
      s.prop.push(num(slot.propensity, json));
      const probs = slot.probabilities as ArrayLike<unknown> | undefined;
      const has = Array.isArray(probs) || probs instanceof Float64Array;
      this.hasProbs.push(has ? 1 : 0);
      const out = this.reserveProbs(k);
      const at = this.probCount;
      if (probs === VALUES_NOT_READ) {
        // Counted, not written: the owner has the values in another form (VALUES_NOT_READ).
      } else if (!has) out.fill(Number.NaN, at, at + k);
      else if (probs instanceof Float64Array && probs.length >= k) out.set(probs.subarray(0, k), at);
      else if (!json && probs.length >= k && typeof probs[0] === "number") {
        // The common case (a binary record): numbers as they are, no per-value conversion.
        for (let j = 0; j < k; j++) out[at + j] = probs[j] as number;
      } else for (let j = 0; j < k; j++) out[at + j] = num(probs[j], json);
      this.probCount = at + k;
      this.probStart.push(this.probCount);
      for (let r = 0; r < counted.length; r++) {
        const reward = counted[r] as StoredReward;
        if (rewardMatchesSlot(reward.itemId, slot)) this.rewards.push(reward.value);
      }
      this.rewardStart.push(this.rewards.length);
    }
    this.slotStart.push(s.pos.length);
  }

  private reserveProbs(k: number): Float64Array {
    if (this.probCount + k > this.probs.length) {
      const grown = new Float64Array(Math.max(this.probCount + k, this.probs.length * 2));
      grown.set(this.probs.subarray(0, this.probCount));
      this.probs = grown;
    }
    return this.probs;
  }

  finish(): DecisionFacts {
    const { d, s } = this;
    return {
      decisions: d.seq.length,
      seq: d.seq.copy(),
      timestamp: d.ts.copy(),
      windowStart: d.win.copy(),
      policy: d.pol.copy(),
      policyVersion: this.polVersion.copy(),
      slotStart: this.slotStart.copy(),
      candidateStart: this.candStart.copy(),
      candidates: this.cands.copy(),
      position: s.pos.copy(),
      action: s.act.copy(),
      item: s.item.copy(),
      propensity: s.prop.copy(),
      hasProbabilities: this.hasProbs.copy(),
      probabilityStart: this.probStart.copy(),
      // A view, not a copy (4 MB for a sealed block): valid until `clear()`; nothing adds after `finish()`.
      probabilities: this.probs.subarray(0, this.probCount),
      rewardStart: this.rewardStart.copy(),
      rewardValue: this.rewards.copy(),
    };
  }
}

/** A string → dense code dictionary (for stores that code ids per scan). */
export function codeDictionary(): (id: string) => number {
  const codes = new Map<string, number>();
  return (id) => {
    let c = codes.get(id);
    if (c === undefined) {
      c = codes.size;
      codes.set(id, c);
    }
    return c;
  };
}
