import { OrderedSlots } from "./ordered-slots.js";
import { RefTable } from "./ref-table.js";

const INITIAL_SLOTS = 1024;

/**
 * Decisions remembered while they can still collect a reward, as columns: the dashboard's activity view and
 * the per-minute fold each hold up to `dashboard.maxTracked` (100,000), and as objects each was three
 * long-lived heap objects (the entry, its boxed timestamp, the joined item ids) that every major GC marked; here
 * a decision is a slot in a typed array, its id's Map entry and two pointers (its joined item ids, its session
 * key: strings it shares or owns). `group` (a policy id, a series list) is a ref into a refcounted table, and
 * the slots that counted a reward (few decisions get one) are kept aside. The Map keeps the order decisions
 * were tracked in, so expiry and the bound walk from the oldest and stop at the first one to keep.
 */
export class TrackedDecisions<G> {
  private readonly slots = new OrderedSlots();
  private readonly groups = new RefTable();
  private at = new Float64Array(INITIAL_SLOTS);
  private group = new Int32Array(INITIAL_SLOTS);
  private readonly items: (string | undefined)[] = [];
  private readonly sessions: (string | undefined)[] = [];
  private readonly rewarded = new Map<number, Set<number>>();

  get size(): number {
    return this.slots.size;
  }

  slotOf(id: string): number | undefined {
    return this.slots.slotOf(id);
  }

  /** Ids and slots, oldest first (a live iterator: survives deletes). */
  entries(): MapIterator<[string, number]> {
    return this.slots.entries();
  }

  keys(): MapIterator<string> {
    return this.slots.keys();
  }

  /** The id tracked first (the next to expire or be forgotten). */
  oldest(): string | undefined {
    return this.slots.oldest();
  }

  /**
   * Tracks a decision; an id already tracked keeps its position (Map.set), with the state given (delete it first
   * to move it to the newest). `rewardedSlots`: the slots that already counted a reward (a checkpoint's).
   */
  set(id: string, group: G, at: number, slotItems: string, session?: string, rewardedSlots?: Iterable<number>): void {
    let slot = this.slots.slotOf(id);
    if (slot === undefined) {
      slot = this.slots.claim(id);
      if (slot >= this.at.length) this.grow();
    } else this.clear(slot);
    this.at[slot] = at;
    this.group[slot] = this.groups.acquire(group);
    this.items[slot] = slotItems;
    this.sessions[slot] = session;
    if (rewardedSlots) this.rewarded.set(slot, new Set(rewardedSlots));
  }

  delete(id: string): void {
    const slot = this.slots.release(id);
    if (slot !== undefined) this.clear(slot);
  }

  atOf(slot: number): number {
    return this.at[slot]!;
  }

  groupOf(slot: number): G {
    return this.groups.get(this.group[slot]!) as G;
  }

  /** The shown item ids, joined in slot order. */
  slotItemsOf(slot: number): string {
    return this.items[slot]!;
  }

  sessionOf(slot: number): string | undefined {
    return this.sessions[slot];
  }

  /** The slots that counted a reward so far (the caller adds to it). */
  rewardedSlots(slot: number): Set<number> {
    let set = this.rewarded.get(slot);
    if (!set) {
      set = new Set();
      this.rewarded.set(slot, set);
    }
    return set;
  }

  /** The slots that counted a reward, undefined when none did. */
  rewardedSlotsIfAny(slot: number): ReadonlySet<number> | undefined {
    const set = this.rewarded.get(slot);
    return set && set.size > 0 ? set : undefined;
  }

  private clear(slot: number): void {
    this.groups.release(this.group[slot]!);
    this.items[slot] = undefined;
    this.sessions[slot] = undefined;
    this.rewarded.delete(slot);
  }

  private grow(): void {
    const at = new Float64Array(this.at.length * 2);
    at.set(this.at);
    this.at = at;
    const group = new Int32Array(this.group.length * 2);
    group.set(this.group);
    this.group = group;
  }
}
