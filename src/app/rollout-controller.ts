import type { Clock } from "../core/clock.js";
import { HOUR, MINUTE } from "../core/clock.js";
import { LoopwiseError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { UserEvent } from "../core/types.js";
import type { RolloutDecisionEvent, TrackerLimits } from "../rollout/arm-tracker.js";
import { ArmTracker } from "../rollout/arm-tracker.js";
import { assignArm, stagePercent } from "../rollout/assign-arm.js";
import { applyDecision, decideRollout } from "../rollout/decide-rollout.js";
import { testGuardrails } from "../rollout/guardrail-stats.js";
import type { RolloutConfigInput } from "../rollout/rollout-config.js";
import { buildRolloutConfig } from "../rollout/rollout-config.js";
import type { RolloutStore } from "../rollout/rollout-store.js";
import type {
  Arm,
  AuditEntry,
  OpeGate,
  OpeGateResult,
  Reason,
  Rollout,
  RolloutDecision,
  RolloutStats,
} from "../rollout/rollout-types.js";
import { TERMINAL_STATUSES } from "../rollout/rollout-types.js";
import { parseCreateRollout } from "./rollout-input.js";
import { describeRollout } from "./rollout-view.js";

export interface RolloutControllerDeps {
  store: RolloutStore;
  clock: Clock;
  /** DR estimates of candidate and incumbent on recent logs; undefined result = logs do not suffice. */
  opeGate?: OpeGate;
  limits?: Partial<TrackerLimits>;
  newId?: (now: number) => string;
  /**
   * Called once when a rollout completes, e.g. to make the candidate the default policy. Without it, a
   * completed rollout keeps routing everyone to its candidate, so the promotion takes effect either way.
   */
  onPromote?: (rollout: Rollout) => Promise<void>;
  /** Whether a policy id is registered; when given, rollouts of unknown policies are refused. */
  isPolicy?: (id: string) => boolean;
}

export interface CreateRolloutInput extends RolloutConfigInput {
  candidate: string;
  incumbent: string;
}

/** How rank should serve one user: which policy, and what to log as the decision's `rollout`. */
export interface RolloutRoute {
  rolloutId: string;
  /** Current stage as a candidate percentage (0 before the first stage or after a rollback). */
  stage: number;
  arm: Arm;
  policyId: string;
}

export interface TickResult {
  rolloutId: string;
  decision: RolloutDecision;
}

interface Live {
  rollout: Rollout;
  tracker: ArmTracker;
  gate?: OpeGateResult | null;
}

const DEFAULT_LIMITS: TrackerLimits = { sessionTtlMs: 2 * HOUR, clickWindowMs: 30 * MINUTE };

/**
 * Applies `decideRollout()` on `tick()` to the rollouts in progress, keeps their per-arm counters from the
 * hooks rank and ingest call (`onDecision`, `onEvent`), and writes every transition to the audit log with
 * the statistics behind it. Counters live in memory and what changed is saved to the store at every tick, so a new
 * controller on the same store resumes the same stage and numbers (losing at most one tick of events).
 */
export class RolloutController {
  private readonly live = new Map<string, Live>();
  /** Completed rollouts still routing to their candidate (only when no onPromote hook is wired). */
  private readonly promoted = new Map<string, Rollout>();
  private ticking: Promise<TickResult[]> | undefined;
  private readonly limits: TrackerLimits;

  private constructor(private readonly deps: RolloutControllerDeps) {
    this.limits = { ...DEFAULT_LIMITS, ...deps.limits };
  }

  /** Opens a controller and resumes every rollout in progress from the store. */
  static async open(deps: RolloutControllerDeps): Promise<RolloutController> {
    const c = new RolloutController(deps);
    for (const rollout of await deps.store.list()) {
      if (rollout.status === "completed" && !deps.onPromote) c.promoted.set(rollout.id, rollout);
      if (TERMINAL_STATUSES.includes(rollout.status)) continue;
      const snapshot = await deps.store.loadStats(rollout.id);
      c.live.set(rollout.id, { rollout, tracker: new ArmTracker(c.limits, snapshot) });
    }
    return c;
  }

  async create(input: CreateRolloutInput): Promise<Rollout> {
    const config = buildRolloutConfig(input);
    if (input.candidate === input.incumbent) {
      throw new LoopwiseError("VALIDATION_FAILED", "candidate and incumbent must differ", [
        { path: "candidate", message: "must differ from incumbent" },
      ]);
    }
    // A rollout of a policy that is not registered would serve the uniform fallback to its whole arm.
    const unknown = (["candidate", "incumbent"] as const).filter((arm) => this.deps.isPolicy?.(input[arm]) === false);
    if (unknown.length > 0) {
      const errors = unknown.map((arm) => ({
        path: arm,
        message: `policy "${input[arm]}" is not registered (POST /v1/policies)`,
      }));
      throw new LoopwiseError("VALIDATION_FAILED", errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors);
    }
    const now = this.deps.clock.now();
    const rollout: Rollout = {
      id: (this.deps.newId ?? ((t) => newId("ro", t)))(now),
      candidate: input.candidate,
      incumbent: input.incumbent,
      config,
      hashVersion: 1,
      status: "running",
      stageIndex: -1,
      candidateShare: 0,
      stageStartedAt: now,
      createdAt: now,
      updatedAt: now,
    };
    const live: Live = { rollout, tracker: new ArmTracker(this.limits) };
    this.live.set(rollout.id, live);
    await this.deps.store.save(rollout);
    await this.audit(live, "create", "admin", rollout, [{ code: "created", message: "rollout created" }]);
    return rollout;
  }

  /** Validates an API body (POST /v1/rollouts: minHold as "24h", guardrails as numbers...) and creates. */
  async start(body: unknown): Promise<Rollout> {
    return this.create(parseCreateRollout(body));
  }

  /** The full status for GET /v1/rollouts/{id}: live metrics, guardrails, SRM, next decision, history. */
  async view(id: string): Promise<ReturnType<typeof describeRollout>> {
    const rollout = await this.getOrThrow(id);
    return describeRollout(rollout, this.stats(id), await this.history(id), this.deps.clock.now());
  }

  async get(id: string): Promise<Rollout | undefined> {
    return this.live.get(id)?.rollout ?? (await this.deps.store.get(id));
  }

  async getOrThrow(id: string): Promise<Rollout> {
    const r = await this.get(id);
    if (!r) throw new LoopwiseError("ROLLOUT_NOT_FOUND", `rollout ${id} not found`);
    return r;
  }

  async list(): Promise<Rollout[]> {
    const stored = await this.deps.store.list();
    return stored.map((r) => this.live.get(r.id)?.rollout ?? r);
  }

  async history(id: string): Promise<AuditEntry[]> {
    return this.deps.store.audit(id);
  }

  /** Current statistics of a rollout in progress (undefined once it ended: its counters are frozen in the audit log). */
  stats(id: string): RolloutStats | undefined {
    const l = this.live.get(id);
    return l && { arms: structuredClone(l.tracker.counters), stageUsers: l.tracker.stageUserCounts() };
  }

  /** Sticky assignment of a user in a rollout (deterministic: the same before and after a restart). */
  assign(rollout: Rollout, userId: string): { arm: Arm; bucket: number } {
    return assignArm(rollout, userId);
  }

  /**
   * For rank (the app's RolloutRouter port): the newest rollout that serves traffic (a stage in progress,
   * or completed: the candidate then serves everyone until it becomes the default policy).
   */
  route(userId: string, _now?: number): RolloutRoute | undefined {
    return this.routeAmong(userId, () => true);
  }

  /** As `route`, among the rollouts whose incumbent is `policyId` (when several policies are rolled out). */
  routeFor(policyId: string, userId: string): RolloutRoute | undefined {
    return this.routeAmong(userId, (r) => r.incumbent === policyId);
  }

  private routeAmong(userId: string, accept: (r: Rollout) => boolean): RolloutRoute | undefined {
    let best: Rollout | undefined;
    for (const rollout of [...[...this.live.values()].map((l) => l.rollout), ...this.promoted.values()]) {
      if (rollout.stageIndex < 0 || rollout.candidateShare <= 0 || !accept(rollout)) continue;
      if (!best || rollout.createdAt > best.createdAt) best = rollout;
    }
    if (!best) return undefined;
    const { arm } = assignArm(best, userId);
    const policyId = arm === "candidate" ? best.candidate : best.incumbent;
    return { rolloutId: best.id, stage: stagePercent(best), arm, policyId };
  }

  /** Hook: a decision rank served through a rollout. Ignored when the rollout is not in progress. */
  onDecision(d: RolloutDecisionEvent): void {
    const l = this.live.get(d.rolloutId);
    if (l && !TERMINAL_STATUSES.includes(l.rollout.status)) l.tracker.onDecision(d);
  }

  /** Hook: every ingested event (with its session id filled); attributed to the user's session arm, if any. */
  onEvent(event: UserEvent): void {
    for (const l of this.live.values()) if (!TERMINAL_STATUSES.includes(l.rollout.status)) l.tracker.onEvent(event);
  }

  /** Decides and applies, for every rollout in progress; saves counters. Returns each rollout's decision. */
  async tick(now: number = this.deps.clock.now()): Promise<TickResult[]> {
    // One tick at a time: a slow store must not let a timer's next tick apply a decision twice.
    if (this.ticking) return this.ticking;
    this.ticking = this.tickOnce(now).finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async tickOnce(now: number): Promise<TickResult[]> {
    const results: TickResult[] = [];
    for (const l of [...this.live.values()]) {
      l.tracker.prune(now);
      const stats: RolloutStats = { arms: l.tracker.counters, stageUsers: l.tracker.stageUserCounts() };
      if (l.rollout.stageIndex < 0 && l.rollout.config.opeGate.enabled) stats.opeGate = await this.evaluateGate(l);
      const decision = decideRollout(l.rollout, stats, now);
      results.push({ rolloutId: l.rollout.id, decision });
      if (decision.action !== "hold")
        await this.transition(l, applyDecision(l.rollout, decision, now), decision, "auto");
      await this.saveStats(l);
      if (TERMINAL_STATUSES.includes(l.rollout.status)) await this.retire(l.rollout);
    }
    return results;
  }

  async pause(id: string): Promise<Rollout> {
    const l = this.requireLive(id, ["running"]);
    return this.manual(l, { ...l.rollout, status: "paused" }, "pause", "paused by an admin");
  }

  async resume(id: string): Promise<Rollout> {
    const l = this.requireLive(id, ["paused"]);
    return this.manual(l, { ...l.rollout, status: "running" }, "resume", "resumed by an admin");
  }

  /** Moves to the next stage now (skipping the OPE gate, hold time and sample), or completes at 100 %. */
  async advance(id: string): Promise<Rollout> {
    const l = this.requireLive(id, ["running", "paused"]);
    const now = this.deps.clock.now();
    const next = applyDecision(l.rollout, { action: "advance", reasons: [] }, now);
    return this.manual(l, next, "manual_advance", "advanced by an admin");
  }

  async abort(id: string): Promise<Rollout> {
    const l = this.requireLive(id, ["running", "paused"]);
    return this.manual(l, { ...l.rollout, status: "aborted", candidateShare: 0 }, "abort", "aborted by an admin");
  }

  /** Saves every rollout's counters now (the server calls this on shutdown). */
  async flush(): Promise<void> {
    for (const l of this.live.values()) await this.saveStats(l);
  }

  /** Writes the counters and what changed since the last write (rollout/tracker-changes.ts). */
  private async saveStats(l: Live): Promise<void> {
    try {
      await this.deps.store.saveStats(l.rollout.id, l.tracker.pendingSave());
    } catch (e) {
      l.tracker.saveFailed();
      throw e;
    }
  }

  private async retire(rollout: Rollout): Promise<void> {
    this.live.delete(rollout.id);
    if (rollout.status !== "completed") return;
    if (this.deps.onPromote) await this.deps.onPromote(rollout);
    else this.promoted.set(rollout.id, rollout);
  }

  private async evaluateGate(l: Live): Promise<OpeGateResult | null | undefined> {
    if (l.gate !== undefined) return l.gate;
    if (!this.deps.opeGate) return null;
    try {
      l.gate = (await this.deps.opeGate(l.rollout.candidate, l.rollout.incumbent)) ?? null;
    } catch {
      return undefined; // the gate's estimator failed: hold and retry at the next tick
    }
    return l.gate;
  }

  private async manual(l: Live, next: Rollout, action: AuditEntry["action"], message: string): Promise<Rollout> {
    const stamped = { ...next, updatedAt: this.deps.clock.now() };
    await this.transition(l, stamped, { action: "hold", reasons: [{ code: action, message }] }, "admin", action);
    await this.saveStats(l);
    if (TERMINAL_STATUSES.includes(stamped.status)) await this.retire(stamped);
    return stamped;
  }

  private async transition(
    l: Live,
    next: Rollout,
    decision: RolloutDecision,
    actor: AuditEntry["actor"],
    action: AuditEntry["action"] = decision.action,
  ): Promise<void> {
    const prev = l.rollout;
    l.rollout = next;
    if (next.stageIndex !== prev.stageIndex) l.tracker.startStage();
    await this.deps.store.save(next);
    await this.audit(l, action, actor, prev, decision.reasons);
  }

  private async audit(
    l: Live,
    action: AuditEntry["action"],
    actor: AuditEntry["actor"],
    prev: Rollout,
    reasons: Reason[],
  ) {
    const r = l.rollout;
    const counters = structuredClone(l.tracker.counters);
    const guardrails = testGuardrails(counters.candidate, counters.incumbent, r.config).map((g) => ({
      metric: g.metric,
      verdict: g.verdict,
      lift: g.lift,
      liftInterval: g.liftInterval,
    }));
    await this.deps.store.appendAudit({
      rolloutId: r.id,
      at: r.updatedAt,
      action,
      actor,
      fromStage: stagePercent(prev),
      toStage: stagePercent(r),
      fromShare: prev.candidateShare,
      toShare: r.candidateShare,
      status: r.status,
      reasons,
      stats: { counters, guardrails },
    });
  }

  private requireLive(id: string, allowed: Rollout["status"][]): Live {
    const l = this.live.get(id);
    if (!l) throw new LoopwiseError("ROLLOUT_NOT_FOUND", `rollout ${id} not found or already ended`);
    if (!allowed.includes(l.rollout.status)) {
      throw new LoopwiseError("CONFLICT", `rollout ${id} is ${l.rollout.status}; expected ${allowed.join(" or ")}`);
    }
    return l;
  }
}
