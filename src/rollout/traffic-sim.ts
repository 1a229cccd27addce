import type { Rng } from "../core/rng.js";
import { normal, rngFor } from "../core/rng.js";
import { applyDecision, decideRollout } from "./decide-rollout.js";
import type { Arm, ArmCounters, Rollout, RolloutAction, RolloutConfig } from "./rollout-types.js";
import { emptyCounters } from "./rollout-types.js";

/**
 * A cheap counter-level traffic simulation for the guardrail statistics: sessions are drawn in aggregate
 * (binomial and multinomial counts), so a whole 1 % -> 10 % -> 50 % -> 100 % rollout with a look every few
 * minutes costs milliseconds. It feeds `decideRollout()` exactly the counters the controller would keep.
 * Ground truth per arm: a per-decision click probability, a per-session conversion probability and a
 * purchase value drawn uniformly from `values`.
 */
export interface ArmProfile {
  ctr: number;
  conversion: number;
  values: number[];
}

/** Binomial(n, p): exact for small n or small mean, normal approximation otherwise (n p (1-p) > 30). */
export function binomial(rng: Rng, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (n < 40) {
    let k = 0;
    for (let i = 0; i < n; i++) if (rng.next() < p) k++;
    return k;
  }
  const variance = n * p * (1 - p);
  if (variance > 30) return Math.min(n, Math.max(0, Math.round(n * p + Math.sqrt(variance) * normal(rng))));
  // Inversion by the CDF recurrence: expected O(n p) steps, used only when n p is small.
  if (p > 0.5) return n - binomial(rng, n, 1 - p);
  const q = 1 - p;
  let pk = q ** n;
  let cdf = pk;
  const u = rng.next();
  let k = 0;
  while (u > cdf && k < n) {
    pk *= ((n - k) / (k + 1)) * (p / q);
    cdf += pk;
    k++;
  }
  return k;
}

/** Multinomial counts of n draws over `probs` by sequential conditional binomials. */
export function multinomial(rng: Rng, n: number, probs: number[]): number[] {
  const out: number[] = [];
  let left = n;
  let mass = 1;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    const k = i === probs.length - 1 ? left : binomial(rng, left, mass > 0 ? Math.min(1, p / mass) : 0);
    out.push(k);
    left -= k;
    mass -= p;
  }
  return out;
}

/** Adds `sessions` sessions of `perSession` decisions each to the counters, exactly as ArmTracker would. */
export function addSessions(c: ArmCounters, rng: Rng, sessions: number, perSession: number, arm: ArmProfile): void {
  // Clicked decisions per session ~ Binomial(perSession, ctr): draw how many sessions have k clicked.
  const pmf = binomialPmf(perSession, arm.ctr);
  const byClicks = multinomial(rng, sessions, pmf);
  c.sessions += sessions;
  c.decisions += sessions * perSession;
  c.sumDecisionsSq += sessions * perSession * perSession;
  byClicks.forEach((m, k) => {
    c.clickedDecisions += m * k;
    c.clicks += m * k;
    c.sumClickedSq += m * k * k;
    c.sumClickedDecisions += m * k * perSession;
  });
  const converted = binomial(rng, sessions, arm.conversion);
  const byValue = multinomial(
    rng,
    converted,
    arm.values.map(() => 1 / arm.values.length),
  );
  c.convertedSessions += converted;
  c.purchases += converted;
  byValue.forEach((m, i) => {
    const v = arm.values[i] as number;
    c.revenue += m * v;
    c.sumRevenueSq += m * v * v;
  });
}

function binomialPmf(n: number, p: number): number[] {
  const out: number[] = [];
  let coef = 1;
  for (let k = 0; k <= n; k++) {
    out.push(coef * p ** k * (1 - p) ** (n - k));
    coef = (coef * (n - k)) / (k + 1);
  }
  return out;
}

export interface CounterScenario {
  seed: string;
  config: RolloutConfig;
  candidate: ArmProfile;
  incumbent: ArmProfile;
  /** Sessions per step over both arms, and decisions per session. */
  sessionsPerStep: number;
  decisionsPerSession: number;
  /** New distinct users per step (for the SRM check); users are assigned by share. */
  newUsersPerStep: number;
  stepMs: number;
  maxSteps: number;
  /** Multiplies the candidate's observed share (1 = correct assignment; 0.9 = 10 % of its users lost). */
  assignmentSkew?: number;
}

export interface ScenarioEvent {
  atMs: number;
  action: RolloutAction;
  stage: number;
  reasons: string[];
}

export interface ScenarioResult {
  status: Rollout["status"];
  /** Elapsed simulated time to the terminal state (or maxSteps), in ms. */
  elapsedMs: number;
  /** Candidate percentage when the rollout ended (the stage it was rolled back or halted in). */
  endStage: number;
  timeline: ScenarioEvent[];
}

/** Runs one rollout from its first stage (OPE gate passed) to a terminal state, looking at every step. */
export function runCounterScenario(s: CounterScenario): ScenarioResult {
  const rng = rngFor("rollout-sim", s.seed);
  let rollout: Rollout = {
    id: `sim-${s.seed}`,
    candidate: "c",
    incumbent: "i",
    config: s.config,
    hashVersion: 1,
    status: "running",
    stageIndex: 0,
    candidateShare: (s.config.stages[0] ?? 100) / 100,
    stageStartedAt: 0,
    createdAt: 0,
    updatedAt: 0,
  };
  const arms: Record<Arm, ArmCounters> = { candidate: emptyCounters(), incumbent: emptyCounters() };
  let stageUsers = { candidate: 0, incumbent: 0 };
  const timeline: ScenarioEvent[] = [];
  let now = 0;
  let lastStage = rollout.candidateShare;
  for (let step = 0; step < s.maxSteps && rollout.status === "running"; step++) {
    now += s.stepMs;
    const share = Math.min(1, rollout.candidateShare * (s.assignmentSkew ?? 1));
    const cand = binomial(rng, s.sessionsPerStep, share);
    addSessions(arms.candidate, rng, cand, s.decisionsPerSession, s.candidate);
    addSessions(arms.incumbent, rng, s.sessionsPerStep - cand, s.decisionsPerSession, s.incumbent);
    const newCand = binomial(rng, s.newUsersPerStep, share);
    stageUsers = {
      candidate: stageUsers.candidate + newCand,
      incumbent: stageUsers.incumbent + s.newUsersPerStep - newCand,
    };
    const decision = decideRollout(rollout, { arms, stageUsers }, now);
    if (decision.action === "hold") continue;
    rollout = applyDecision(rollout, decision, now);
    if (rollout.candidateShare !== lastStage) stageUsers = { candidate: 0, incumbent: 0 };
    lastStage = rollout.candidateShare;
    timeline.push({
      atMs: now,
      action: decision.action,
      stage: rollout.candidateShare * 100,
      reasons: decision.reasons.map((r) => r.code),
    });
  }
  const last = timeline[timeline.length - 1];
  const endStage = rollout.status === "running" ? rollout.candidateShare * 100 : previousStage(timeline, rollout);
  return {
    status: rollout.status,
    elapsedMs: last && rollout.status !== "running" ? last.atMs : now,
    endStage,
    timeline,
  };
}

function previousStage(timeline: ScenarioEvent[], rollout: Rollout): number {
  if (rollout.status === "completed") return 100;
  const before = timeline[timeline.length - 2];
  return before ? before.stage : (rollout.config.stages[0] ?? 0);
}
