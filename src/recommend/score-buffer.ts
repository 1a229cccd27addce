/**
 * A sparse score accumulator over dense item indices, reused across requests: `add` touches an item, the
 * generation stamp makes `reset` O(1), and `touched` lists the scored items so ranking never scans the whole
 * catalogue. Scoring is synchronous, so one buffer per model is safe on Node's single thread.
 */
export class ScoreBuffer {
  readonly scores: Float64Array;
  readonly touched: Int32Array;
  count = 0;
  private readonly stamp: Uint32Array;
  private gen = 1;

  constructor(size: number) {
    this.scores = new Float64Array(size);
    this.touched = new Int32Array(size);
    this.stamp = new Uint32Array(size);
  }

  reset(): void {
    this.count = 0;
    this.gen++;
    if (this.gen === 0xffffffff) {
      this.stamp.fill(0);
      this.gen = 1;
    }
  }

  add(i: number, v: number): void {
    if (this.stamp[i] === this.gen) {
      this.scores[i]! += v;
    } else {
      this.stamp[i] = this.gen;
      this.scores[i] = v;
      this.touched[this.count++] = i;
    }
  }

  /** Overwrites instead of adding (dense scorers). */
  set(i: number, v: number): void {
    if (this.stamp[i] !== this.gen) {
      this.stamp[i] = this.gen;
      this.touched[this.count++] = i;
    }
    this.scores[i] = v;
  }

  has(i: number): boolean {
    return this.stamp[i] === this.gen;
  }

  get(i: number): number {
    return this.stamp[i] === this.gen ? this.scores[i]! : 0;
  }
}
