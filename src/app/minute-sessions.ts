import { OrderedSlots } from "./ordered-slots.js";
import { RefTable } from "./ref-table.js";

/** A session's part in one series: counted in `minute` (the session's first decision there). */
export interface SessionSeries {
  readonly series: string;
  readonly minute: number;
  revenue: number;
  purchased: boolean;
}

const INITIAL_SLOTS = 1024;

/**
 * The per-minute fold's tracked sessions (app/minute-aggregates.ts) as columns: up to `dashboard.maxTracked`
 * (100,000) are live at once, and as objects each was five long-lived heap objects (the session, its series list
 * and entry, two boxed timestamps) that every major GC marked; here a session is a slot in a few typed arrays,
 * its key's Map entry and a pointer to its user id. Its first series is inline (almost every session has one);
 * later ones, rare, are kept as objects. Series names are refs into a refcounted table (policies and arms).
 * The Map keeps the order sessions started in: the bound forgets the oldest first.
 */
export class SessionTable {
  private readonly slots = new OrderedSlots();
  private readonly names = new RefTable();
  private userIds: (string | undefined)[] = [];
  private lastSeen = new Float64Array(INITIAL_SLOTS);
  private minute = new Float64Array(INITIAL_SLOTS);
  private revenue = new Float64Array(INITIAL_SLOTS);
  /** The first series' name ref, −1 while the session has none. */
  private series = new Int32Array(INITIAL_SLOTS);
  private purchased = new Uint8Array(INITIAL_SLOTS);
  /** Series after the first, by slot. */
  private readonly more = new Map<number, SessionSeries[]>();

  get size(): number {
    return this.slots.size;
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }

  slotOf(key: string): number | undefined {
    return this.slots.slotOf(key);
  }

  /** Keys and slots in the order the sessions started (a live iterator: survives deletes). */
  entries(): MapIterator<[string, number]> {
    return this.slots.entries();
  }

  keys(): MapIterator<string> {
    return this.slots.keys();
  }

  /** The session that started first (the bound's next to forget). */
  oldest(): string | undefined {
    return this.slots.oldest();
  }

  /** A new session without series; returns its slot. */
  open(key: string, userId: string, at: number): number {
    const slot = this.slots.claim(key);
    if (slot >= this.lastSeen.length) this.grow();
    this.userIds[slot] = userId;
    this.lastSeen[slot] = at;
    this.series[slot] = -1;
    return slot;
  }

  delete(key: string): void {
    const slot = this.slots.release(key);
    if (slot === undefined) return;
    if (this.series[slot]! >= 0) this.names.release(this.series[slot]!);
    this.more.delete(slot);
    this.userIds[slot] = undefined;
  }

  userIdOf(slot: number): string {
    return this.userIds[slot]!;
  }

  lastSeenOf(slot: number): number {
    return this.lastSeen[slot]!;
  }

  seen(slot: number, at: number): void {
    this.lastSeen[slot] = Math.max(this.lastSeen[slot]!, at);
  }

  hasSeries(slot: number, series: string): boolean {
    const first = this.series[slot]!;
    if (first < 0) return false;
    return this.names.get(first) === series || (this.more.get(slot)?.some((x) => x.series === series) ?? false);
  }

  addSeries(slot: number, series: string, minute: number, revenue = 0, purchased = false): void {
    if (this.series[slot]! >= 0) {
      const list = this.more.get(slot) ?? [];
      list.push({ series, minute, revenue, purchased });
      this.more.set(slot, list);
      return;
    }
    this.series[slot] = this.names.acquire(series);
    this.minute[slot] = minute;
    this.revenue[slot] = revenue;
    this.purchased[slot] = purchased ? 1 : 0;
  }

  /** The session's series as plain data (copies). */
  seriesOf(slot: number): SessionSeries[] {
    if (this.series[slot]! < 0) return [];
    const first: SessionSeries = {
      series: this.names.get(this.series[slot]!) as string,
      minute: this.minute[slot]!,
      revenue: this.revenue[slot]!,
      purchased: this.purchased[slot] === 1,
    };
    return [first, ...(this.more.get(slot) ?? []).map((x) => ({ ...x }))];
  }

  /**
   * Adds a purchase of `value` to every series of the session; `each` learns per series its minute, its revenue
   * before and whether this is its first purchase.
   */
  purchase(
    slot: number,
    value: number,
    each: (series: string, minute: number, before: number, first: boolean) => void,
  ): void {
    if (this.series[slot]! < 0) return;
    const before = this.revenue[slot]!;
    const first = this.purchased[slot] === 0;
    this.revenue[slot] = before + value;
    this.purchased[slot] = 1;
    each(this.names.get(this.series[slot]!) as string, this.minute[slot]!, before, first);
    for (const s of this.more.get(slot) ?? []) {
      const was = s.revenue;
      const firstHere = !s.purchased;
      s.revenue += value;
      s.purchased = true;
      each(s.series, s.minute, was, firstHere);
    }
  }

  /** Sets a session whole (a checkpoint's entry): an existing key keeps its position, with the state given. */
  set(key: string, userId: string, lastSeen: number, series: readonly SessionSeries[]): void {
    const known = this.slots.slotOf(key);
    let slot: number;
    if (known === undefined) slot = this.open(key, userId, lastSeen);
    else {
      slot = known;
      if (this.series[slot]! >= 0) this.names.release(this.series[slot]!);
      this.more.delete(slot);
      this.series[slot] = -1;
      this.userIds[slot] = userId;
      this.lastSeen[slot] = lastSeen;
    }
    for (const s of series) this.addSeries(slot, s.series, s.minute, s.revenue, s.purchased);
  }

  private grow(): void {
    const size = this.lastSeen.length * 2;
    const grown = <T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const out = make(size);
      out.set(a);
      return out;
    };
    this.lastSeen = grown(this.lastSeen, (n) => new Float64Array(n));
    this.minute = grown(this.minute, (n) => new Float64Array(n));
    this.revenue = grown(this.revenue, (n) => new Float64Array(n));
    this.series = grown(this.series, (n) => new Int32Array(n));
    this.purchased = grown(this.purchased, (n) => new Uint8Array(n));
  }
}
