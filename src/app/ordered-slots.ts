/**
 * Keys mapped to reusable integer slots of a caller's typed-array columns, in insertion order (a Map: expiry
 * and size bounds walk from the oldest and stop at the first one to keep). A deleted key's slot is reused by
 * the next new key; `claim` says when a slot lies past `capacity` so the caller grows its columns.
 * Shared by the dashboard's column stores (minute-sessions.ts, tracked-decisions.ts).
 */
export class OrderedSlots {
  private readonly slots = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private used = 0;

  get size(): number {
    return this.slots.size;
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }

  slotOf(key: string): number | undefined {
    return this.slots.get(key);
  }

  /** Keys and slots, oldest first (a live iterator: survives deletes). */
  entries(): MapIterator<[string, number]> {
    return this.slots.entries();
  }

  keys(): MapIterator<string> {
    return this.slots.keys();
  }

  /** The key added first (the next to expire or be forgotten). */
  oldest(): string | undefined {
    return this.slots.keys().next().value;
  }

  /** A slot for a new key (a freed one first), added as the newest. */
  claim(key: string): number {
    const slot = this.freeSlots.pop() ?? this.used++;
    this.slots.set(key, slot);
    return slot;
  }

  /** Forgets `key`; returns its slot (now free for the next key), undefined when it was not there. */
  release(key: string): number | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.slots.delete(key);
    this.freeSlots.push(slot);
    return slot;
  }
}
