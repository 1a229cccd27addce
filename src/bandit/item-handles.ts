/**
 * A small integer per item id, shared by a Thompson policy's noise bank (noise-bank.ts) and its serving arena
 * (serving-arena.ts), so a request looks each candidate id up once (`resolve`) and both then index arrays by it.
 *
 * Why (issue 12, stop 26): each of them kept its own Map by id, so a candidate cost two lookups of a string that is
 * new per request (parsed from the body): each hashes it and compares it with the stored key, whose characters, for
 * an item not served lately, are out of cache. Handles are dense and never reused while the table lives; past `max`
 * ids the table starts over (`era` + 1) and the holders rebuild or drop what they index by handle (the arena from its
 * own ids, the noise bank by redrawing rows, which are seeded by item id: the same numbers). It starts over only at
 * the start of a request's `resolve`, so the handles a request holds stay valid through it (the arena indexing its
 * own ids anew after a start-over assigns handles, and must not void the request's).
 */
export class ItemHandles {
  private readonly handles = new Map<string, number>();
  /** Bumped when the table starts over: handles of an earlier era mean nothing. */
  era = 0;

  /** `max`: ids kept before the table starts over (~60 B each with the Map entry and the id string). */
  constructor(readonly max = 1 << 18) {}

  get size(): number {
    return this.handles.size;
  }

  /** The handle of `id`, assigned when new (never starts the table over: `max` is checked by resolve()). */
  handle(id: string): number {
    let h = this.handles.get(id);
    if (h === undefined) {
      h = this.handles.size;
      this.handles.set(id, h);
    }
    return h;
  }

  /** The handle of `id`, or −1 when it has none (assigns nothing). */
  find(id: string): number {
    return this.handles.get(id) ?? -1;
  }

  /**
   * out[c] = the handle of ids[c] for c < n, assigned when new. The table starts over before the loop when the
   * request's ids might not fit, never inside it, so the n handles are of one era. Returns out.
   */
  resolve(ids: readonly string[], n: number, out: Int32Array): Int32Array {
    if (this.handles.size + n > this.max) this.startOver();
    for (let c = 0; c < n; c++) out[c] = this.handle(ids[c]!);
    return out;
  }

  private startOver(): void {
    this.handles.clear();
    this.era++;
  }
}
