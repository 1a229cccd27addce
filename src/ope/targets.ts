import type { Policy } from "../bandit/policy.js";
import { type LoggedRound, roundFeedback, roundInput } from "./logged-round.js";

/**
 * A target policy as OPE sees it: its distribution over a round's candidates at the round's logged
 * position, given the candidates placed before (π_e(· | x_i, k_i)). `undefined` means unknown (the
 * logging policy when only the logged propensity was recorded): the pipeline then uses w_i = 1 and marks
 * DM-family estimators unavailable.
 */
export interface TargetPolicy {
  readonly name: string;
  readonly kind: "uniform" | "logging" | "policy" | "file";
  distribution(round: LoggedRound, index: number): ArrayLike<number> | undefined;
}

/** Uniform over the candidates still free at this slot (CCB semantics: placed ones get 0). */
export function uniformTarget(): TargetPolicy {
  // Read-only results are shared per candidate count when nothing is placed (the common case).
  const shared = new Map<number, Float64Array>();
  return {
    name: "uniform",
    kind: "uniform",
    distribution(round) {
      const k = round.candidates.length;
      if (round.placedBefore.length === 0) {
        const known = shared.get(k);
        if (known) return known;
        const dist = new Float64Array(k).fill(1 / k);
        shared.set(k, dist);
        return dist;
      }
      const dist = new Float64Array(k);
      const free = k - round.placedBefore.length;
      dist.fill(1 / free);
      for (const j of round.placedBefore) dist[j] = 0;
      return dist;
    },
  };
}

/** The logging policy itself: its logged distribution when recorded, else only the logged propensity. */
export function loggingTarget(): TargetPolicy {
  return { name: "logging", kind: "logging", distribution: (round) => round.probabilities };
}

/** A registered policy, asked for its exact distribution with the same context, candidates and slots taken. */
export function policyTarget(name: string, policy: Policy): TargetPolicy {
  return {
    name,
    kind: "policy",
    distribution: (round) => policy.distribution(roundInput(round), round.placedBefore),
  };
}

/**
 * A policy that keeps learning along the log, for estimating what a learning policy would have earned
 * from its first decision on (Li, Chu, Langford & Wang 2011 evaluate learning algorithms offline the same
 * way; VW's progressive validation with --cb_type ips is the same estimate). Rounds are replayed in log
 * order: every slot of a decision gets the policy's distribution as it stood before that decision, and
 * the decision's logged outcomes (action, reward, propensity) update the policy before the next decision.
 * Each distribution depends only on earlier rounds, so IPS stays unbiased for the value of this sequence
 * of distributions (a martingale argument). It is optimistic in one respect, said in the report: the
 * policy learns from a decision at once, where online rewards arrive after their window.
 * The policy is mutated: pass a copy (resolveTargets clones registered policies).
 * Rounds of one decision are grouped by `decisionId`; a source without ids has one round per decision.
 */
export function learningTarget(name: string, policy: Policy): TargetPolicy {
  let pending: LoggedRound[] = [];
  let pendingId: string | undefined;
  const learn = () => {
    for (const r of pending) policy.update(roundFeedback(r));
    pending = [];
  };
  return {
    name,
    kind: "policy",
    distribution(round) {
      if (round.decisionId === undefined || round.decisionId !== pendingId) learn();
      pendingId = round.decisionId;
      const dist = policy.distribution(roundInput(round), round.placedBefore);
      pending.push(round);
      return dist;
    },
  };
}

/** Per-round probabilities computed elsewhere (`file:` targets): row i is round i's distribution. */
export function matrixTarget(name: string, matrix: ProbabilityMatrix): TargetPolicy {
  return {
    name,
    kind: "file",
    distribution(round, index) {
      if (index >= matrix.rows) {
        throw new Error(`${name}: has ${matrix.rows} rows but the log has more rounds (round ${index})`);
      }
      const row = matrix.values.subarray(index * matrix.k, index * matrix.k + matrix.k);
      return row.length === round.candidates.length ? row : row.subarray(0, round.candidates.length);
    },
  };
}

export interface ProbabilityMatrix {
  rows: number;
  k: number;
  /** Row-major rows × k. */
  values: Float64Array;
}

/**
 * Parses the per-round probability CSV: header `p_0,…,p_{K-1}`, one row per logged round in log order.
 * Each row must be a distribution (non-negative, sums to 1 within 1e-6).
 */
export function parseProbabilityCsv(text: string, name = "file"): ProbabilityMatrix {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").split(",").map((h) => h.trim());
  header.forEach((h, j) => {
    if (h !== `p_${j}`) throw new Error(`${name}: header must be p_0,…,p_{K-1}; column ${j} is "${h}"`);
  });
  const k = header.length;
  const rows = lines.length - 1;
  const values = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) {
    const cells = (lines[i + 1] as string).split(",");
    if (cells.length !== k) throw new Error(`${name}: row ${i + 1} has ${cells.length} values, expected ${k}`);
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const v = Number(cells[j]);
      if (!(v >= 0 && v <= 1)) throw new Error(`${name}: row ${i + 1}, p_${j} = "${cells[j]}" is not a probability`);
      values[i * k + j] = v;
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-6) throw new Error(`${name}: row ${i + 1} sums to ${sum}, not 1`);
  }
  return { rows, k, values };
}

/** Writes the matrix format back (used by tests and to export a target's distribution). */
export function formatProbabilityCsv(matrix: ProbabilityMatrix): string {
  const header = Array.from({ length: matrix.k }, (_, j) => `p_${j}`).join(",");
  const lines = [header];
  for (let i = 0; i < matrix.rows; i++) {
    lines.push(Array.from(matrix.values.subarray(i * matrix.k, (i + 1) * matrix.k)).join(","));
  }
  return `${lines.join("\n")}\n`;
}
