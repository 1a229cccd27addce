import { DAY } from "../core/clock.js";

/**
 * A gradual rollout of a candidate policy against the incumbent (issue 7). Plain data: the controller
 * persists it as JSON, `decideRollout()` reads it, and the HTTP API returns it.
 */
export type Arm = "candidate" | "incumbent";
export const ARMS: readonly Arm[] = ["candidate", "incumbent"];

export type RolloutStatus = "running" | "paused" | "completed" | "rolled_back" | "halted" | "aborted";
export const TERMINAL_STATUSES: readonly RolloutStatus[] = ["completed", "rolled_back", "halted", "aborted"];

export type GuardrailMetric = "ctr" | "conversion" | "revenuePerSession";
export const GUARDRAIL_METRICS: readonly GuardrailMetric[] = ["ctr", "conversion", "revenuePerSession"];

export interface GuardrailConfig {
  enabled: boolean;
  /** Largest tolerated relative drop of the candidate vs the incumbent, e.g. 0.02 = 2 %. */
  maxRelativeDrop: number;
}

export interface OpeGateConfig {
  enabled: boolean;
  /** Tolerated relative shortfall of the candidate's DR estimate vs the incumbent's (95 % one-sided). */
  tolerance: number;
}

export interface RolloutConfig {
  /** Candidate share per stage in percent, increasing; the last one is normally 100. */
  stages: number[];
  /** Minimum time a stage holds before it may advance. */
  minHoldMs: number;
  /** Minimum decisions per arm (cumulative over the rollout) before a stage may advance. */
  minSamplePerArm: number;
  guardrails: Record<GuardrailMetric, GuardrailConfig>;
  /** Overall false-alarm rate of the guardrails, split evenly (Bonferroni) over the enabled metrics. */
  falseAlarmRate: number;
  /**
   * Relative standard error at which the mixture confidence sequence is tightest (its tuning; Howard et
   * al. 2021 §3.5): near the precision the guardrails need to see a regression of ~2-3x the tolerance.
   */
  csTuningStderr: number;
  /** Minimum sessions per arm before a guardrail is tested at all (the CLT needs a few). */
  minSessionsForTest: number;
  /**
   * Events (clicked decisions, converting sessions) the candidate arm should have seen at the incumbent's
   * rate before a guardrail is tested: below that the normal approximation is not yet usable.
   */
  minExpectedEvents: number;
  /** Sample-ratio-mismatch threshold on the p-value. */
  srmPValue: number;
  /**
   * Which p-value halts: "sequential" (anytime-valid, Lindon & Malek 2022; default) or "chi-square" (the
   * classic fixed-sample test: inflates false halts when checked at every tick, see srm.ts).
   */
  srmTest: "sequential" | "chi-square";
  /** Minimum distinct users in the stage before SRM is checked. */
  srmMinUsers: number;
  opeGate: OpeGateConfig;
}

export const DEFAULT_ROLLOUT_CONFIG: RolloutConfig = {
  stages: [1, 10, 50, 100],
  minHoldMs: DAY,
  minSamplePerArm: 1000,
  guardrails: {
    ctr: { enabled: true, maxRelativeDrop: 0.02 },
    conversion: { enabled: true, maxRelativeDrop: 0.02 },
    revenuePerSession: { enabled: true, maxRelativeDrop: 0.03 },
  },
  falseAlarmRate: 0.05,
  csTuningStderr: 0.025,
  minSessionsForTest: 100,
  minExpectedEvents: 50,
  srmPValue: 0.001,
  srmTest: "sequential",
  srmMinUsers: 100,
  opeGate: { enabled: true, tolerance: 0.05 },
};

export interface Rollout {
  id: string;
  candidate: string;
  incumbent: string;
  config: RolloutConfig;
  /** Bucketing version: part of the hash seed, so a re-bucketing is explicit (GrowthBook's hashVersion). */
  hashVersion: 1;
  /**
   * Bucketing salt, hashed with each user id instead of the rollout id when set (GrowthBook's and Statsig's
   * salt): the same salt splits users the same way in every rollout that uses it, so an experiment re-run or a
   * simulation replays with the same arms. Unset: the id, so two rollouts split users independently.
   */
  salt?: string;
  status: RolloutStatus;
  /** -1 while the OPE gate has not been passed; otherwise an index into `config.stages`. */
  stageIndex: number;
  /** Current candidate share in [0, 1]: 0 before the first stage and after rollback/halt/abort. */
  candidateShare: number;
  stageStartedAt: number;
  createdAt: number;
  updatedAt: number;
}

/** Running counters of one arm. Sums are over sessions (the analysis unit), see guardrail-stats.ts. */
export interface ArmCounters {
  decisions: number;
  /** Decisions with at least one click. */
  clickedDecisions: number;
  /** Raw click events attributed to the arm (display only). */
  clicks: number;
  sessions: number;
  /** Sessions with at least one purchase. */
  convertedSessions: number;
  revenue: number;
  /** Per-session sums of squares and cross-products for the delta-method variance of ratio metrics. */
  sumDecisionsSq: number;
  sumClickedSq: number;
  sumClickedDecisions: number;
  sumRevenueSq: number;
  purchases: number;
}

export function emptyCounters(): ArmCounters {
  return {
    decisions: 0,
    clickedDecisions: 0,
    clicks: 0,
    sessions: 0,
    convertedSessions: 0,
    revenue: 0,
    sumDecisionsSq: 0,
    sumClickedSq: 0,
    sumClickedDecisions: 0,
    sumRevenueSq: 0,
    purchases: 0,
  };
}

/** Result of the injected OPE gate (the lead wires the DR estimator of src/ope). */
export interface OpeEstimate {
  value: number;
  /** 95 % confidence interval [low, high]. */
  ci: [number, number];
}
export interface OpeGateResult {
  candidate: OpeEstimate;
  incumbent: OpeEstimate;
  n: number;
}
export type OpeGate = (candidateId: string, incumbentId: string) => Promise<OpeGateResult | undefined>;

/** What `decideRollout()` sees: cumulative counters, this stage's distinct users, the gate's result. */
export interface RolloutStats {
  arms: Record<Arm, ArmCounters>;
  /** Distinct users with a decision in the current stage, per arm (for the SRM check). */
  stageUsers: Record<Arm, number>;
  /** Present only while stageIndex is -1 and the gate was evaluated; null = logs do not suffice. */
  opeGate?: OpeGateResult | null;
}

export type RolloutAction = "advance" | "hold" | "rollback" | "halt" | "complete";

/** One reason, as data: a code plus the figures behind it. */
export interface Reason {
  code: string;
  message: string;
  [detail: string]: unknown;
}

export interface RolloutDecision {
  action: RolloutAction;
  reasons: Reason[];
}

/** An audit-log entry: every transition, with the statistics that justified it. */
export interface AuditEntry {
  rolloutId: string;
  at: number;
  action: RolloutAction | "create" | "pause" | "resume" | "abort" | "manual_advance";
  actor: "auto" | "admin";
  fromStage: number;
  toStage: number;
  fromShare: number;
  toShare: number;
  status: RolloutStatus;
  reasons: Reason[];
  stats?: unknown;
}
