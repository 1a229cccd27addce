import type { PolicyFeedback, PolicyInput } from "../bandit/policy.js";
import { isLoopwiseError, LoopwiseError } from "../core/errors.js";
import type { FeatureMap } from "../core/types.js";

/**
 * One logged round, the unit every estimator averages over: a context, the candidate actions, the logged
 * position k, the logged action (index into candidates), its logged propensity and the reward.
 * A slate of m slots is m rounds; slot k is a decision among the candidates not in `placedBefore`
 * (conditional contextual bandit semantics, see src/bandit/policy.ts), so a target is asked for its
 * distribution at k given the same `placedBefore`.
 */
export interface LoggedRound {
  /** Shared features the request sent (PolicyInput.context). */
  context: FeatureMap;
  /** The user's feature-store aggregates at decision time (PolicyInput.profile), when the source has them. */
  profile?: FeatureMap;
  /** The decision the round is a slot of, when the source knows it (groups a slate's rounds). */
  decisionId?: string;
  /** Candidate actions (shared between the rounds of one decision; never mutate). */
  candidates: ReadonlyArray<RoundCandidate>;
  /** 0-based logged position. */
  position: number;
  /** Index into `candidates` of the logged action. */
  action: number;
  /** Logged probability of `action` at `position` (conditional on `placedBefore`). */
  propensity: number;
  /** The logging policy's full distribution at this position, aligned with candidates; undefined if unknown. */
  probabilities?: ArrayLike<number>;
  /** Indices of candidates placed in earlier slots of the same decision. */
  placedBefore: readonly number[];
  reward: number;
}

export interface RoundCandidate {
  id: string;
  features?: FeatureMap;
  score?: number;
}

/** A whole log, ready for evaluation, with what was left out and why. */
export interface LoggedRounds {
  /** Human description of the source, e.g. `obd:random/men/men.csv`. */
  source: string;
  rounds: LoggedRound[];
  /** Rounds not usable for evaluation, by reason (pending rewards, never-activated decisions, bad rows). */
  skipped: Record<string, number>;
  /** Plain-language facts about the log that bound what can be estimated. */
  notes: string[];
}

/** The policy input a round was decided with (rank's PolicyInput, app/rank.ts policyInputOf). */
export function roundInput(round: LoggedRound): PolicyInput {
  return round.profile
    ? { context: round.context, profile: round.profile, candidates: round.candidates }
    : { context: round.context, candidates: round.candidates };
}

/** What a round teaches a policy: its logged action, position, reward and propensity. */
export function roundFeedback(round: LoggedRound): PolicyFeedback {
  return {
    input: roundInput(round),
    index: round.action,
    position: round.position,
    reward: round.reward,
    propensity: round.propensity,
    placedBefore: round.placedBefore,
  };
}

/**
 * A logged propensity must be a probability in (0, 1]: 0 or NaN would make every importance weight
 * infinite or NaN and every estimate meaningless (issue 14, defect 10). Rejected with the row named, so the
 * file can be fixed, rather than skipped silently.
 */
/** A logged file's defect, named with where it is: the file's fault (VALIDATION_FAILED: a 400, the CLI's exit 1). */
export function invalidLog(message: string): LoopwiseError {
  return new LoopwiseError("VALIDATION_FAILED", message, [{ path: "logs", message }]);
}

/**
 * A bad line's error with the file it is in; an error that is not a defect of the file (unreadable, …) keeps its
 * kind, with the file named too.
 */
export function inFile(file: string, e: unknown): Error {
  const message = `${file}: ${(e as Error).message}`;
  return isLoopwiseError(e) ? new LoopwiseError(e.code, message, e.errors) : new Error(message, { cause: e });
}

export function checkedPropensity(p: number, where: string): number {
  if (!(p > 0 && p <= 1)) {
    throw new LoopwiseError(
      "VALIDATION_FAILED",
      `${where}: propensity ${String(p)} is not a probability in (0, 1]; importance weights would be infinite or NaN`,
      [{ path: "logs", message: `${where}: propensity must be in (0, 1]` }],
    );
  }
  return p;
}
