/**
 * Values (strings, objects) that many packed records share, each held once and referred to by a small integer,
 * with a count of the records holding it: the last release frees it. Packed records (app/pending-window.ts) are
 * numbers only, so the GC never visits them; what they point to is here, one pointer per distinct value
 * instead of one per record. Refs are reused after a value is freed (a free list), so the table stays as large as
 * the distinct values held at once.
 */
export class RefTable {
  private readonly index = new Map<unknown, number>();
  private readonly values: unknown[] = [];
  private counts = new Int32Array(1024);
  private readonly freeRefs: number[] = [];

  /** The ref of `value` (objects by identity, strings by content), its holder count raised by one. */
  acquire(value: unknown): number {
    let ref = this.index.get(value);
    if (ref === undefined) {
      ref = this.freeRefs.pop() ?? this.values.length;
      if (ref === this.values.length) this.values.push(value);
      else this.values[ref] = value;
      if (ref >= this.counts.length) this.grow();
      this.index.set(value, ref);
    }
    this.counts[ref]!++;
    return ref;
  }

  /** One holder of `ref` let it go; the last one frees it. */
  release(ref: number): void {
    const left = --this.counts[ref]!;
    if (left > 0) return;
    if (left < 0) throw new Error(`ref ${ref} released more often than acquired`);
    this.index.delete(this.values[ref]);
    this.values[ref] = undefined;
    this.freeRefs.push(ref);
  }

  get(ref: number): unknown {
    return this.values[ref];
  }

  /** How many holders `ref` has now. */
  count(ref: number): number {
    return this.counts[ref]!;
  }

  /** Distinct values held now. */
  get size(): number {
    return this.index.size;
  }

  private grow(): void {
    const counts = new Int32Array(this.counts.length * 2);
    counts.set(this.counts);
    this.counts = counts;
  }
}
