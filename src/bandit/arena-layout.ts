/**
 * Where the serving arena (serving-arena.ts) keeps each entry of an arm's μ and packed Σ: the slots of x in an
 * order of their own, the slots most requests list last.
 *
 * Why (issue 12, stop 26): a serving prediction reads, per arm, μ_i and Σ[i, j] for the request's listed slots
 * only (~5-15 of 64), and is bound by the cache lines those reads touch. In slot order they are spread over the
 * whole triangle: a line for each listed row's μ_i and Σ[i, i], and more for its pairs (~10-15 lines an arm). But
 * most of a request's slots are the same in every request (the constant, and every numeric context feature: it
 * hashes by its name), and a packed upper triangle keeps its last rows together: with those slots last, their
 * μ and Σ block is a few dozen numbers at the end of the arm (one or two lines), and a slot used by fewer requests
 * (a categorical value) finds its pairs with them at the end of its own row, beside nothing else it needs.
 *
 * The order follows use: the arena counts how often each slot is listed (`noteListed`) and, every LOOK_EVERY
 * requests, takes the slots listed by at least HOT_SHARE of them as hot; when that set changed, the layout is the
 * slots by increasing use and the arena rewrites its arms (10-30 ms for 2,000 arms at 64 slots on the shared
 * 2-core machine at load ~10, at a sync: about what a sync writing every arm costs). A layout only moves numbers:
 * every read is of the same float32 value at another place, in the same order, so predictions are the same bits
 * whatever the layout (a test checks it), and a restored arena (slot order until its first look) serves what the
 * one it was saved from served.
 */
const LOOK_EVERY = 1000;
/** A slot listed by at least this share of the requests since the last look is hot. */
const HOT_SHARE = 0.25;

export class ArenaLayout {
  /** Slot i's place in the layout. */
  readonly order: Int32Array;
  /** By position t of an arm's own packed Σ (packed-symmetric.ts): where the arena keeps that entry. */
  readonly sigmaAt: Int32Array;
  /**
   * By place p: Σ between places p ≤ q is at rowAt[p] + q, and μ of place p at rowAt[p] + p − 1, just before its
   * diagonal (a prediction reads both for every listed slot: one line).
   */
  readonly rowAt: Int32Array;
  /** By slot i: μ_i's position. */
  readonly muAt: Int32Array;
  /** Numbers per arm: the packed triangle and μ. */
  readonly stride: number;
  private readonly uses: Float64Array;
  private requests = 0;
  /** The hot slots (1) the current layout was made for. */
  private readonly hot: Uint8Array;
  /** Layouts made after the first (slot order), for the tests and describe(). */
  changes = 0;

  constructor(
    readonly dims: number,
    /** The arms' own packed layout (packed-symmetric.ts): Σ[i, j] (i ≤ j) at packedOffsets[i] + j. */
    private readonly packedOffsets: Int32Array,
  ) {
    this.stride = (dims * (dims + 1)) / 2 + dims;
    this.order = new Int32Array(dims);
    this.sigmaAt = new Int32Array((dims * (dims + 1)) / 2);
    this.rowAt = new Int32Array(dims);
    this.muAt = new Int32Array(dims);
    this.uses = new Float64Array(dims);
    this.hot = new Uint8Array(dims);
    for (let p = 0; p < dims; p++) {
      // Place p's row starts after the p earlier rows (d − r + 1 numbers each, μ included): p·d − p(p−1)/2 + p.
      this.rowAt[p] = p * dims - (p * (p - 1)) / 2 + 1;
    }
    this.place(Int32Array.from({ length: dims }, (_, i) => i));
  }

  /** The position of Σ[i, j] (slots, either order). */
  position(i: number, j: number): number {
    const p = this.order[i]!;
    const q = this.order[j]!;
    return p <= q ? this.rowAt[p]! + q : this.rowAt[q]! + p;
  }

  /** One request listed slots nz[0..k). */
  noteListed(nz: Int32Array, k: number): void {
    const uses = this.uses;
    for (let a = 0; a < k; a++) uses[nz[a]!]! += 1;
    this.requests++;
  }

  /**
   * Every LOOK_EVERY requests: true, with the layout changed, when the hot slots changed (the arena then rewrites
   * every arm); false otherwise. Counts start over at each look, so the layout follows the traffic.
   */
  update(): boolean {
    if (this.requests < LOOK_EVERY) return false;
    const { uses, hot, dims } = this;
    // Hysteresis: a slot turns hot at HOT_SHARE of the requests and cold below half of it, so a slot listed by
    // about HOT_SHARE of them does not move the layout (and rewrite every arm) at every look.
    const enter = this.requests * HOT_SHARE;
    const leave = enter / 2;
    const hotNow = (i: number) => (hot[i] === 1 ? uses[i]! >= leave : uses[i]! >= enter);
    let same = true;
    for (let i = 0; i < dims; i++) if ((hotNow(i) ? 1 : 0) !== hot[i]) same = false;
    if (!same) {
      for (let i = 0; i < dims; i++) hot[i] = hotNow(i) ? 1 : 0;
      // Places by increasing use (ties by slot): the hot slots last.
      const bySlot = Int32Array.from({ length: dims }, (_, i) => i).sort((a, b) => uses[a]! - uses[b]! || a - b);
      const order = new Int32Array(dims);
      for (let p = 0; p < dims; p++) order[bySlot[p]!] = p;
      this.place(order);
      this.changes++;
    }
    uses.fill(0);
    this.requests = 0;
    return !same;
  }

  private place(order: Int32Array): void {
    this.order.set(order);
    const { dims, muAt, sigmaAt, rowAt, packedOffsets } = this;
    for (let i = 0; i < dims; i++) {
      muAt[i] = rowAt[order[i]!]! + order[i]! - 1;
      for (let j = i; j < dims; j++) sigmaAt[packedOffsets[i]! + j] = this.position(i, j);
    }
  }
}
