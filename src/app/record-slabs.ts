/**
 * Fixed-size records (Float64Array views) cut from shared slabs: a record is one small object, where a
 * Float64Array of its own is two (the view and its ArrayBuffer) plus the buffer's extension the GC sweeps.
 * Open reward windows (app/pending-window.ts) are allocated and dropped in about the same order (they close on
 * their end, oldest first), so a slab is freed soon after its last window closes: a window that outlives its
 * neighbours (rewards in flight, a re-track) keeps its slab's bytes until then, bounded by the windows' lifetime.
 */
const SLAB_DOUBLES = 32 * 1024; // 256 KiB: ~350 windows of 10 slots

export class RecordSlabs {
  private slab = new ArrayBuffer(0);
  private used = 0;

  alloc(doubles: number): Float64Array {
    if (doubles > SLAB_DOUBLES) return new Float64Array(doubles);
    if ((this.used + doubles) * 8 > this.slab.byteLength) {
      this.slab = new ArrayBuffer(SLAB_DOUBLES * 8);
      this.used = 0;
    }
    const record = new Float64Array(this.slab, this.used * 8, doubles);
    this.used += doubles;
    return record;
  }
}
