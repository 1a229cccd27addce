import type { LoggedRound } from "../logged-round.js";
import type { FittedRewardModel, RewardModel } from "./reward-model.js";

/**
 * Tabular reward models: the mean logged reward per (action, position) cell, or per action across
 * positions; a cell never logged falls back to the global mean reward. Actions are candidate ids, so the
 * table is shared across decisions whose candidate lists differ. Cheap and unbiased per cell; ignores
 * the context, which DR's correction then has to make up for.
 */
export function tabularModel(byPosition: boolean): RewardModel {
  return {
    name: byPosition ? "tabular" : "tabular-action",
    description: byPosition
      ? "mean reward per (action, position); global mean for empty cells"
      : "mean reward per action over all positions; global mean for empty cells",
    fit(rounds: readonly LoggedRound[]): FittedRewardModel {
      const positions = byPosition ? 1 + rounds.reduce((m, r) => Math.max(m, r.position), 0) : 1;
      const codes = new CandidateCodes(rounds);
      let sums: Float64Array = new Float64Array(1024);
      let counts: Float64Array = new Float64Array(1024);
      let total = 0;
      for (let i = 0; i < rounds.length; i++) {
        const r = rounds[i] as LoggedRound;
        const cell = codes.code(i, r.action) * positions + (byPosition ? r.position : 0);
        if (cell >= sums.length) [sums, counts] = [grow(sums, cell), grow(counts, cell)];
        sums[cell] = (sums[cell] as number) + r.reward;
        counts[cell] = (counts[cell] as number) + 1;
        total += r.reward;
      }
      const global = rounds.length > 0 ? total / rounds.length : 0;
      const table = new Float64Array(sums.length);
      for (let c = 0; c < table.length; c++) {
        const n = counts[c] as number;
        table[c] = n > 0 ? (sums[c] as number) / n : global;
      }
      return {
        predict(round, i, out) {
          const known = !byPosition || round.position < positions;
          const k = byPosition && known ? round.position : 0;
          const own = rounds[i] === round ? i : codes.add(round);
          for (let j = 0; j < round.candidates.length; j++) {
            const cell = codes.code(own, j) * positions + k;
            out[j] = known && cell < table.length ? (table[cell] as number) : global;
          }
        },
      };
    },
  };
}

/**
 * Candidate ids as dense integers, stored flat: round i's codes start at `start[i]`. Rounds of one
 * decision (and every OBD round) share one candidates array and so one run of codes. Flat storage keeps
 * a million-round log from allocating a million small arrays.
 */
class CandidateCodes {
  private readonly ids = new Map<string, number>();
  private flat = new Int32Array(1024);
  private used = 0;
  private start: Int32Array;
  private last: LoggedRound["candidates"] | undefined;
  private lastStart = 0;

  constructor(rounds: readonly LoggedRound[]) {
    this.start = new Int32Array(rounds.length + 1);
    for (let i = 0; i < rounds.length; i++) this.start[i] = this.place((rounds[i] as LoggedRound).candidates);
  }

  code(round: number, j: number): number {
    return this.flat[(this.start[round] as number) + j] as number;
  }

  /** Codes for a round that was not fitted; returns a slot index usable with `code`. */
  add(round: LoggedRound): number {
    const slot = this.start.length - 1;
    this.start[slot] = this.place(round.candidates);
    return slot;
  }

  private place(candidates: LoggedRound["candidates"]): number {
    if (candidates === this.last) return this.lastStart;
    if (this.used + candidates.length > this.flat.length) {
      const bigger = new Int32Array(Math.max(this.flat.length * 2, this.used + candidates.length));
      bigger.set(this.flat);
      this.flat = bigger;
    }
    const at = this.used;
    for (let j = 0; j < candidates.length; j++) {
      const id = (candidates[j] as { id: string }).id;
      let code = this.ids.get(id);
      if (code === undefined) {
        code = this.ids.size;
        this.ids.set(id, code);
      }
      this.flat[at + j] = code;
    }
    this.used += candidates.length;
    this.last = candidates;
    this.lastStart = at;
    return at;
  }
}

function grow(a: Float64Array, need: number): Float64Array {
  const b = new Float64Array(Math.max(need + 1, a.length * 2));
  b.set(a);
  return b;
}
