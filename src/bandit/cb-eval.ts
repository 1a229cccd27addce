import { type Rng, sampleIndex } from "../core/rng.js";
import type { FeatureMap } from "../core/types.js";
import type { Policy, PolicyCandidate, PolicyInput } from "./policy.js";

/**
 * The supervised-to-bandit protocol of ../shared/data/cb/README.md ("A Contextual Bandit Bake-off",
 * Bietti, Agarwal & Langford 2021): one online pass in file order with progressive validation. Each row
 * is a context; the K classes are the candidates, each carrying its action index as a categorical
 * feature so ADF models learn per-action weights; cost c_t = 0 iff the sampled action is the label.
 */
export interface CbDataset {
  name: string;
  columns: string[];
  /** Number of actions (max label + 1). */
  k: number;
  labels: Int32Array;
  contexts: FeatureMap[];
}

/** Parses `shuffled.csv`: header `label,<features>`; numeric cells become numbers, others categories. */
export function parseCbCsv(name: string, text: string): CbDataset {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0]?.split(",") ?? [];
  if (header[0] !== "label") throw new Error(`${name}: expected a header starting with "label"`);
  const columns = header.slice(1);
  const labels = new Int32Array(lines.length - 1);
  const contexts: FeatureMap[] = [];
  let k = 0;
  for (let r = 1; r < lines.length; r++) {
    const cells = lines[r]!.split(",");
    const label = Number(cells[0]);
    if (!Number.isInteger(label) || label < 0) throw new Error(`${name}: row ${r}: bad label "${cells[0]}"`);
    labels[r - 1] = label;
    k = Math.max(k, label + 1);
    const ctx: FeatureMap = {};
    for (let j = 0; j < columns.length; j++) {
      const cell = cells[j + 1] ?? "";
      const num = cell.trim() === "" ? Number.NaN : Number(cell);
      // Zeros may be omitted (README); the encoder skips them anyway.
      if (Number.isFinite(num)) {
        if (num !== 0) ctx[columns[j]!] = num;
      } else ctx[columns[j]!] = cell;
    }
    contexts.push(ctx);
  }
  return { name, columns, k, labels, contexts };
}

export interface CbResult {
  dataset: string;
  policy: string;
  n: number;
  k: number;
  pvLoss: number;
  expectedPvLoss: number;
  greedyAccuracy: number;
  seconds: number;
  examplesPerSecond: number;
}

/** The K actions as ADF candidates: id = index, one categorical feature `action=<index>`. */
export function actionCandidates(k: number): PolicyCandidate[] {
  return Array.from({ length: k }, (_, a) => ({ id: String(a), features: { action: String(a) } }));
}

/**
 * Runs one pass. `now()` (ms) is passed in so this stays pure; `limit` caps the rows (tests).
 * Steps per row follow the README: distribution from the learner trained on rows < t, sample with
 * `rng`, reveal the cost of that action only, update with (x, a, reward = 1 − c, p(a)).
 */
export function runProgressiveValidation(
  data: CbDataset,
  policy: Policy,
  rng: Rng,
  now: () => number,
  limit = Number.POSITIVE_INFINITY,
): CbResult {
  const candidates = actionCandidates(data.k);
  const n = Math.min(limit, data.labels.length);
  let cost = 0;
  let expected = 0;
  let greedyHits = 0;
  const started = now();
  for (let t = 0; t < n; t++) {
    const input: PolicyInput = { context: data.contexts[t]!, candidates };
    const y = data.labels[t]!;
    const p = policy.distribution(input);
    const a = sampleIndex(p, rng);
    const c = a === y ? 0 : 1;
    cost += c;
    expected += 1 - (p[y] ?? 0);
    if (argmaxLowest(p) === y) greedyHits++;
    policy.update({ input, index: a, position: 0, reward: 1 - c, propensity: p[a]!, placedBefore: [] });
  }
  const seconds = Math.max((now() - started) / 1000, 1e-9);
  return {
    dataset: data.name,
    policy: policy.type,
    n,
    k: data.k,
    pvLoss: cost / n,
    expectedPvLoss: expected / n,
    greedyAccuracy: greedyHits / n,
    seconds,
    examplesPerSecond: n / seconds,
  };
}

function argmaxLowest(p: Float64Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
}
