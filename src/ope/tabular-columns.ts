import type { LoggedColumns } from "./logged-columns.js";
import type { FittedRewardModel } from "./reward-models/reward-model.js";

/**
 * The tabular reward models of reward-models/tabular.ts (`tabular`: mean reward per (action, position);
 * `tabular-action`: per action; global mean for empty cells), fitted on a columnar log. Actions are the
 * facts' candidate codes, which stand for candidate ids exactly as tabular.ts's own codes do, and cells
 * are summed in round order, so every prediction is the same number (checked by evaluate-columns.test.ts).
 * Predicts only rounds of the log it was fitted on.
 */
export const COLUMNAR_REWARD_MODELS: Readonly<Record<string, (log: LoggedColumns) => FittedRewardModel>> =
  Object.freeze({
    tabular: (log: LoggedColumns) => fitTabularColumns(log, true),
    "tabular-action": (log: LoggedColumns) => fitTabularColumns(log, false),
  });

export function fitTabularColumns(log: LoggedColumns, byPosition: boolean): FittedRewardModel {
  const f = log.facts;
  const n = log.reward.length;
  let positions = 1;
  if (byPosition) {
    let max = 0;
    for (let i = 0; i < n; i++) max = Math.max(max, f.position[log.slot[i] as number] as number);
    positions = 1 + max;
  }
  let maxCode = 0;
  for (let c = 0; c < f.candidates.length; c++) maxCode = Math.max(maxCode, f.candidates[c] as number);
  const cells = (maxCode + 1) * positions;
  const sums = new Float64Array(cells);
  const counts = new Float64Array(cells);
  let total = 0;
  const cellOf = (i: number, j: number) => {
    const s = log.slot[i] as number;
    const code = f.candidates[(f.candidateStart[log.decision[i] as number] as number) + j] as number;
    return code * positions + (byPosition ? (f.position[s] as number) : 0);
  };
  for (let i = 0; i < n; i++) {
    const cell = cellOf(i, f.action[log.slot[i] as number] as number);
    const r = log.reward[i] as number;
    sums[cell] = (sums[cell] as number) + r;
    counts[cell] = (counts[cell] as number) + 1;
    total += r;
  }
  const global = n > 0 ? total / n : 0;
  const table = new Float64Array(cells);
  for (let c = 0; c < cells; c++) {
    const m = counts[c] as number;
    table[c] = m > 0 ? (sums[c] as number) / m : global;
  }
  return {
    predict(_round, i, out) {
      const d = log.decision[i] as number;
      const k = (f.candidateStart[d + 1] as number) - (f.candidateStart[d] as number);
      for (let j = 0; j < k; j++) out[j] = table[cellOf(i, j)] as number;
    },
  };
}
