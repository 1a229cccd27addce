import { murmur3 } from "../core/hash.js";

/** Event ids the SQLite log writer remembers by default (config `ingest.dedupWindow`): ~50 MB on its thread. */
export const DEFAULT_DEDUP_WINDOW = 2_000_000;

/**
 * The last `cap` event ids seen, for deduplication over a bounded window (RudderStack's messageId window,
 * Segment's and Mixpanel's windowed dedup) instead of forever by a random-order unique index: the SQLite log
 * writer asks it before inserting (storage/sqlite/event-inserts.ts), so a retried id is a duplicate while it is
 * among the last `cap` ids written, and is logged again after that.
 *
 * Keys are a 64-bit hash of the id: two 32-bit MurmurHash3 with independent seeds (core/hash.ts). A fresh id is
 * taken for a duplicate only when its 64 bits equal those of one of the `cap` ids in the window: ~cap / 2^64 per
 * event, 1.1e-13 at the default 2,000,000 (one false duplicate in ~10^13 events). Not cryptographic: a client
 * holding an events key could craft ids colliding with ids it knows in advance; it cannot see anyone's ids.
 *
 * Storage is typed arrays, no string and no object per id (a JS Set of the ids held ~70+ bytes each on the
 * writer's heap, and its GC scanned them): an open-addressing table with linear probing (`table`: hi, lo
 * interleaved; 0,0 is an empty slot) at most half full, and a ring of the same hashes in arrival order for the
 * FIFO eviction, which deletes by backward shift (Knuth 6.4, Algorithm R: no tombstones, so lookups never slow
 * down). Both grow by doubling up to the cap: ~25 bytes per id at the cap (8 in the ring, 16-32 in the table).
 *
 * Written here, not taken from npm: the packages that come close hold JS values per key (mnemonist's and
 * lru-cache's maps and sets: the heap cost above), or are probabilistic without FIFO deletion (bloom-filters, a
 * false-duplicate rate far above 2^-64); none rolls the newest adds back to a mark, which the writer needs when a
 * transaction or savepoint that added ids rolls back (`mark` / `rollbackTo`).
 */
export class DedupWindow {
  private table: Int32Array;
  private mask: number;
  private ring: Int32Array;
  /** Ring slots (ids it can hold before it grows); at most `cap`. */
  private ringCap: number;
  /** The ring's oldest entry, and how many it holds. */
  private head = 0;
  private count = 0;
  /** Ids added so far minus those rolled back: the next id's arrival number (marks are these numbers). */
  private added = 0;
  /** Arrival times, coarse (`stamp`): pairs of (arrival number, ms), oldest first; see `oldestAt`. */
  private stamps: number[] = [];

  constructor(
    readonly cap: number,
    initialIds = 1024,
  ) {
    if (!Number.isSafeInteger(cap) || cap < 1)
      throw new RangeError(`dedup window must be a positive integer, got ${cap}`);
    this.ringCap = Math.min(cap, Math.max(1, initialIds));
    this.ring = new Int32Array(2 * this.ringCap);
    const slots = tableSlotsFor(this.ringCap);
    this.table = new Int32Array(2 * slots);
    this.mask = slots - 1;
  }

  /** Ids in the window. */
  get size(): number {
    return this.count;
  }

  /** Bytes of its typed arrays. */
  get bytes(): number {
    return this.table.byteLength + this.ring.byteLength;
  }

  /** True when `id` is in the window. */
  hasId(id: string): boolean {
    return this.has(murmur3(id, SEED_HI) | 0, murmur3(id, SEED_LO) | 0);
  }

  /** Adds `id` unless it is in the window; true when it was not (a fresh id). At the cap the oldest id leaves. */
  addId(id: string): boolean {
    return this.add(murmur3(id, SEED_HI) | 0, murmur3(id, SEED_LO) | 0);
  }

  /** `hasId` by hash (tests force collisions of the low bits with it). */
  has(hi: number, lo0: number): boolean {
    const lo = hi === 0 && lo0 === 0 ? 1 : lo0;
    return this.find(hi, lo) >= 0;
  }

  /** `addId` by hash. */
  add(hi: number, lo0: number): boolean {
    // 0,0 marks an empty slot: that one hash shares 0,1 (a 2^-64 chance more of a false duplicate).
    const lo = hi === 0 && lo0 === 0 ? 1 : lo0;
    if (this.find(hi, lo) >= 0) return false;
    if (this.count === this.ringCap) {
      if (this.ringCap < this.cap) this.grow();
      else this.evictOldest();
    }
    const at = (this.head + this.count) % this.ringCap;
    this.ring[2 * at] = hi;
    this.ring[2 * at + 1] = lo;
    this.count++;
    this.added++;
    this.insert(hi, lo);
    return true;
  }

  /**
   * Grows now if the ring is three quarters full: the caller's moment (the log writer's, after a batch was
   * acknowledged) rather than inside the next `add` that finds it full (a commit whose callers wait; the last
   * doubling to 2M rehashes 1M ids, ~100-200 ms). True when it grew.
   */
  growIfNear(): boolean {
    if (this.ringCap >= this.cap || 4 * this.count < 3 * this.ringCap) return false;
    this.grow();
    return true;
  }

  /** A point to roll back to: the ids added after it can be taken out again (`rollbackTo`). */
  mark(): number {
    return this.added;
  }

  /**
   * Takes out the ids added since `mark` (newest first), as if never added: their transaction rolled back, so the
   * log does not hold them. The oldest ids they pushed out at the cap stay out (the window is shorter by that many
   * until as many new ids arrived): the window never claims an id the log does not hold.
   */
  rollbackTo(mark: number): void {
    let n = Math.min(this.added - mark, this.count);
    this.added = mark;
    while (n-- > 0) {
      const at = (this.head + this.count - 1) % this.ringCap;
      this.remove(this.ring[2 * at] as number, this.ring[2 * at + 1] as number);
      this.count--;
    }
    const s = this.stamps;
    while (s.length > 0 && (s[s.length - 2] as number) > this.added) s.length -= 2;
  }

  /**
   * Notes that the ids added from now on arrived at `now` (ms) or later; at most one note per `everyMs`, so the
   * window's oldest arrival (`oldestAt`) is known to about that much without a time per id.
   */
  stamp(now: number, everyMs = 1000): void {
    const s = this.stamps;
    if (s.length > 0 && now - (s[s.length - 1] as number) < everyMs) return;
    s.push(this.added, now);
    // The notes before the oldest id in the window tell nothing more: keep the last of them only.
    const oldest = this.added - this.count;
    let drop = 0;
    while (drop + 2 < s.length && (s[drop + 2] as number) <= oldest) drop += 2;
    if (drop > 0) s.splice(0, drop);
  }

  /** About when the oldest id in the window arrived (ms, from `stamp`); undefined when empty or never stamped. */
  oldestAt(): number | undefined {
    if (this.count === 0) return undefined;
    const oldest = this.added - this.count;
    const s = this.stamps;
    let at: number | undefined;
    for (let i = 0; i < s.length && (s[i] as number) <= oldest; i += 2) at = s[i + 1];
    return at ?? s[1];
  }

  private find(hi: number, lo: number): number {
    const t = this.table;
    for (let i = lo & this.mask; ; i = (i + 1) & this.mask) {
      const h = t[2 * i] as number;
      const l = t[2 * i + 1] as number;
      if (h === hi && l === lo) return i;
      if (h === 0 && l === 0) return -1;
    }
  }

  private insert(hi: number, lo: number): void {
    const t = this.table;
    let i = lo & this.mask;
    while (t[2 * i] !== 0 || t[2 * i + 1] !== 0) i = (i + 1) & this.mask;
    t[2 * i] = hi;
    t[2 * i + 1] = lo;
  }

  /** Backward-shift deletion: each later entry of the probe run moves into the hole unless it would pass its home. */
  private remove(hi: number, lo: number): void {
    const t = this.table;
    const mask = this.mask;
    let hole = this.find(hi, lo);
    if (hole < 0) return;
    for (let j = (hole + 1) & mask; t[2 * j] !== 0 || t[2 * j + 1] !== 0; j = (j + 1) & mask) {
      const home = (t[2 * j + 1] as number) & mask;
      // The entry at j may fill the hole when its home is not cyclically within (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      t[2 * hole] = t[2 * j] as number;
      t[2 * hole + 1] = t[2 * j + 1] as number;
      hole = j;
    }
    t[2 * hole] = 0;
    t[2 * hole + 1] = 0;
  }

  private evictOldest(): void {
    const h = this.head;
    this.remove(this.ring[2 * h] as number, this.ring[2 * h + 1] as number);
    this.head = (h + 1) % this.ringCap;
    this.count--;
  }

  /** Doubles the ring (up to the cap), unwrapping it, and rehashes into a table at most half full. */
  private grow(): void {
    const ringCap = Math.min(this.cap, 2 * this.ringCap);
    const ring = new Int32Array(2 * ringCap);
    for (let k = 0; k < this.count; k++) {
      const from = (this.head + k) % this.ringCap;
      ring[2 * k] = this.ring[2 * from] as number;
      ring[2 * k + 1] = this.ring[2 * from + 1] as number;
    }
    this.ring = ring;
    this.ringCap = ringCap;
    this.head = 0;
    const slots = tableSlotsFor(ringCap);
    if (slots === this.mask + 1) return;
    this.table = new Int32Array(2 * slots);
    this.mask = slots - 1;
    for (let k = 0; k < this.count; k++) this.insert(ring[2 * k] as number, ring[2 * k + 1] as number);
  }
}

/** Two seeds, so the two 32-bit halves are independent hashes of the id. */
const SEED_HI = 0x9e3779b9;
const SEED_LO = 0x7f4a7c15;

/** Table slots for `ids` entries: a power of two at least twice as many (load factor <= 0.5). */
function tableSlotsFor(ids: number): number {
  let slots = 2;
  while (slots < 2 * ids) slots *= 2;
  return slots;
}
