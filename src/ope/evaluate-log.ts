import { type Diagnostics, diagnose, type Histogram, histogram } from "./diagnostics.js";
import type { EstimatorInput, EstimatorParams } from "./estimator.js";
import { importanceWeights } from "./estimator.js";
import { getEstimator } from "./estimators/registry.js";
import {
  COLUMNAR_TARGET_KINDS,
  type EvaluationLog,
  isColumnar,
  type LoggedColumns,
  type RoundSource,
  roundSource,
} from "./logged-columns.js";
import type { LoggedRound } from "./logged-round.js";
import { getRewardModel } from "./reward-models/registry.js";
import type { FittedRewardModel, RewardModel } from "./reward-models/reward-model.js";
import { type Summary, summarize } from "./summarize.js";
import { COLUMNAR_REWARD_MODELS } from "./tabular-columns.js";
import type { TargetPolicy } from "./targets.js";

/**
 * The evaluation pipeline: a log, targets and estimator names in; per target and estimator a value,
 * stderr and CIs, plus diagnostics. Columns are built once per target (target probability of the logged
 * action, q̂ of the logged action, Σ_a π_e q̂) and every estimator reads the same columns.
 * The log is rounds as objects (any source) or, for Loopwise's own log, columns (`readDecisionColumns`):
 * the same numbers either way, but columns hold no context, so they take only the targets and reward
 * models that need none (`canEvaluateColumns`).
 */
export interface EvaluateLogOptions extends EstimatorParams {
  estimators: readonly string[];
  rewardModel: string;
  alpha?: number;
  bootstrap?: number;
  seed?: number;
  folds?: number;
  /** Progress in [0, 1] as targets are computed; awaited so callers can yield. */
  onProgress?: (fraction: number) => void | Promise<void>;
}

export interface EstimateResult extends Partial<Summary> {
  estimator: string;
  label: string;
  /** Why the estimator could not run for this target. */
  error?: string;
}

export interface TargetResult {
  target: string;
  kind: TargetPolicy["kind"];
  estimates: EstimateResult[];
  diagnostics: Diagnostics;
  weights: Histogram;
}

export interface EvaluationResult {
  source: string;
  n: number;
  skipped: Record<string, number>;
  notes: string[];
  /** The logging policy's own on-policy value: the mean reward of the log. */
  onPolicy: Summary;
  rewardModel: string;
  params: { clip?: number; switchLambda?: number; alpha: number; bootstrap: number; seed: number };
  targets: TargetResult[];
}

/**
 * True when a columnar log can be evaluated for these targets and options: every target is of
 * COLUMNAR_TARGET_KINDS (uniform, logging, file) and, when an estimator needs a reward model, it is a
 * tabular one. Registered policies and the learned reward models read the context: use `readDecisionLog`.
 */
export function canEvaluateColumns(
  targets: readonly Pick<TargetPolicy, "kind">[],
  options: Pick<EvaluateLogOptions, "estimators" | "rewardModel">,
): boolean {
  const needsModel = options.estimators.map(getEstimator).some((e) => e.needsRewardModel);
  return (
    targets.every((t) => COLUMNAR_TARGET_KINDS.has(t.kind)) &&
    (!needsModel || Object.hasOwn(COLUMNAR_REWARD_MODELS, options.rewardModel))
  );
}

export async function evaluateLog(
  log: EvaluationLog,
  targets: readonly TargetPolicy[],
  options: EvaluateLogOptions,
): Promise<EvaluationResult> {
  const estimators = options.estimators.map(getEstimator);
  const needsModel = estimators.some((e) => e.needsRewardModel);
  const model = getRewardModel(options.rewardModel);
  if (isColumnar(log) && !canEvaluateColumns(targets, options)) {
    throw new Error(
      "a columnar log cannot be evaluated for targets or reward models that read the context; read it with readDecisionLog",
    );
  }
  const fitted = needsModel ? fitModel(model, log, options) : undefined;
  const summaryOptions = { alpha: options.alpha ?? 0.05, bootstrap: options.bootstrap ?? 0, seed: options.seed ?? 0 };
  const rounds = roundSource(log);
  const reward = isColumnar(log) ? log.reward : Float64Array.from(log.rounds, (r) => r.reward);
  const results: TargetResult[] = [];
  for (const [t, target] of targets.entries()) {
    await options.onProgress?.(t / targets.length);
    const cols = columnsOf(rounds, target, fitted);
    const estimates = estimators.map((e): EstimateResult => {
      try {
        return { estimator: e.name, label: e.label, ...summarize(e.terms(cols.input, options), summaryOptions) };
      } catch (err) {
        return { estimator: e.name, label: e.label, error: (err as Error).message };
      }
    });
    const weights = importanceWeights(cols.input);
    results.push({
      target: target.name,
      kind: target.kind,
      estimates,
      diagnostics: diagnose(weights, cols.deficient, cols.known),
      weights: histogram(weights),
    });
  }
  await options.onProgress?.(1);
  const params: EvaluationResult["params"] = { ...summaryOptions };
  if (options.clip !== undefined) params.clip = options.clip;
  if (options.switchLambda !== undefined) params.switchLambda = options.switchLambda;
  return {
    source: log.source,
    n: reward.length,
    skipped: log.skipped,
    notes: log.notes,
    onPolicy: summarize(reward, summaryOptions),
    rewardModel: model.name,
    params,
    targets: results,
  };
}

export interface TargetColumns {
  input: EstimatorInput;
  /** Rounds where the target puts mass on an action with logging probability 0; null when never known. */
  deficient: number | null;
  /** Rounds whose full logging distribution is known. */
  known: number;
}

/**
 * Columnar inputs for one target. A target with an unknown distribution (the logging policy when only the
 * propensity was logged) gets π_e(a_i) = p_i and Σ π_e q̂ = NaN, so DM-family estimators report unavailable.
 */
export function targetColumns(
  rounds: readonly LoggedRound[],
  target: TargetPolicy,
  fitted: FittedRewardModel | undefined,
): TargetColumns {
  return columnsOf({ length: rounds.length, at: (i) => rounds[i] as LoggedRound }, target, fitted);
}

function fitModel(model: RewardModel, log: EvaluationLog, options: EvaluateLogOptions): FittedRewardModel {
  if (!isColumnar(log)) return model.fit(log.rounds, { folds: options.folds ?? 3, seed: options.seed ?? 0 });
  return (COLUMNAR_REWARD_MODELS[model.name] as (log: LoggedColumns) => FittedRewardModel)(log);
}

function columnsOf(rounds: RoundSource, target: TargetPolicy, fitted: FittedRewardModel | undefined): TargetColumns {
  const n = rounds.length;
  const input: EstimatorInput = {
    reward: new Float64Array(n),
    propensity: new Float64Array(n),
    targetProb: new Float64Array(n),
    qLogged: new Float64Array(n),
    qTarget: new Float64Array(n),
  };
  let q = new Float64Array(64);
  let deficient = 0;
  let known = 0;
  for (let i = 0; i < n; i++) {
    const r = rounds.at(i);
    const k = r.candidates.length;
    if (q.length < k) q = new Float64Array(k * 2);
    input.reward[i] = r.reward;
    input.propensity[i] = r.propensity;
    const dist = target.distribution(r, i);
    if (fitted) fitted.predict(r, i, q);
    input.qLogged[i] = fitted ? (q[r.action] as number) : 0;
    if (dist === undefined) {
      input.targetProb[i] = r.propensity;
      input.qTarget[i] = Number.NaN;
      continue;
    }
    input.targetProb[i] = dist[r.action] as number;
    let s = 0;
    if (fitted) for (let j = 0; j < k; j++) s += (dist[j] as number) * (q[j] as number);
    input.qTarget[i] = s;
    if (r.probabilities) {
      known++;
      if (deficientAt(dist, r.probabilities, k)) deficient++;
    }
  }
  return { input, deficient: known > 0 ? deficient : null, known };
}

function deficientAt(target: ArrayLike<number>, logging: ArrayLike<number>, k: number): boolean {
  for (let j = 0; j < k; j++) if ((target[j] as number) > 1e-12 && !((logging[j] as number) > 0)) return true;
  return false;
}
