import type { Clock } from "../core/clock.js";
import { HOUR, MINUTE } from "../core/clock.js";
import type { UserEvent } from "../core/types.js";
import type { RolloutDecisionEvent, TrackerLimits, TrackerSave } from "./arm-tracker.js";
import { ArmTracker } from "./arm-tracker.js";
import { type RolloutRoute, routeAmong, stagePercent } from "./assign-arm.js";
import { applyDecision, decideRollout } from "./decide-rollout.js";
import { testGuardrails } from "./guardrail-stats.js";
import type { RolloutStore } from "./rollout-store.js";
import type {
  AuditEntry,
  OpeGate,
  OpeGateResult,
  Reason,
  Rollout,
  RolloutDecision,
  RolloutStats,
} from "./rollout-types.js";
import { TERMINAL_STATUSES } from "./rollout-types.js";

/** What the ticker writes: transitions, their audit entries and (unless deferred) the counters. */
export type RolloutWrites = Pick<RolloutStore, "save" | "appendAudit" | "saveStats">;

export interface RolloutTickerDeps {
  /** Where it resumes from: the rollouts and their counters. */
  reads: Pick<RolloutStore, "list" | "loadStats">;
  writes: RolloutWrites;
  clock: Clock;
  /** DR estimates of candidate and incumbent on recent logs; undefined result = logs do not suffice. */
  opeGate?: OpeGate;
  limits?: Partial<TrackerLimits>;
  /** Called once when a rollout completes (see RolloutControllerDeps.onPromote). */
  onPromote?: (rollout: Rollout) => Promise<void>;
  /**
   * Leave the counters to the caller (`pendingSaves()`): the rollout duty writes them in one fenced
   * transaction with its stream positions, so counters and reading position never disagree.
   */
  deferStats?: boolean;
}

export interface TickResult {
  rolloutId: string;
  decision: RolloutDecision;
}

export interface LiveRollout {
  rollout: Rollout;
  tracker: ArmTracker;
  gate?: OpeGateResult | null;
}

const DEFAULT_LIMITS: TrackerLimits = { sessionTtlMs: 2 * HOUR, clickWindowMs: 30 * MINUTE };

/**
 * The counting and deciding core of rollouts, shared by the embedded controller (app/rollout-controller.ts,
 * fed by rank and ingest) and the rollout duty (duties/rollout-duty.ts, fed by the decision stream): per-arm
 * counters of every rollout in progress, `decideRollout()` applied at each tick, every transition written with
 * its audit entry and the statistics behind it. One code path, so both count and decide alike.
 */
export class RolloutTicker {
  readonly live = new Map<string, LiveRollout>();
  /** Completed rollouts still routing to their candidate (only when no onPromote hook is wired). */
  readonly promoted = new Map<string, Rollout>();
  readonly limits: TrackerLimits;
  private ticking: Promise<TickResult[]> | undefined;
  /** deferStats: the last counters of rollouts that ended since the last `pendingSaves()`. */
  private endedSaves: Array<[string, TrackerSave]> = [];

  private constructor(private readonly deps: RolloutTickerDeps) {
    this.limits = { ...DEFAULT_LIMITS, ...deps.limits };
  }

  /** Resumes every rollout in progress, with its counters, from the store. */
  static async open(deps: RolloutTickerDeps): Promise<RolloutTicker> {
    const t = new RolloutTicker(deps);
    for (const rollout of await deps.reads.list()) await t.resume(rollout);
    return t;
  }

  private async resume(rollout: Rollout): Promise<void> {
    if (rollout.status === "completed" && !this.deps.onPromote) this.promoted.set(rollout.id, rollout);
    if (TERMINAL_STATUSES.includes(rollout.status)) return;
    const snapshot = await this.deps.reads.loadStats(rollout.id);
    this.live.set(rollout.id, { rollout, tracker: new ArmTracker(this.limits, snapshot) });
  }

  /** Starts counting a new rollout, writing it and its audit entry. */
  async add(rollout: Rollout, reasons: Reason[]): Promise<void> {
    const live: LiveRollout = { rollout, tracker: new ArmTracker(this.limits) };
    this.live.set(rollout.id, live);
    await this.deps.writes.save(rollout);
    await this.audit(live, "create", "admin", rollout, reasons);
  }

  /**
   * Takes in what others wrote to the store (the duty: rollouts created, paused, resumed, advanced or aborted
   * through an API node): new ones start counting, changed ones take the stored state (a stage change starts
   * a new stage's user count), ended ones retire. `updatedAt` orders the two writers' versions.
   */
  async sync(stored: Rollout[]): Promise<void> {
    for (const rollout of stored) {
      const l = this.live.get(rollout.id);
      if (!l) {
        if (!this.promoted.has(rollout.id) && !TERMINAL_STATUSES.includes(rollout.status)) await this.resume(rollout);
        continue;
      }
      if (rollout.updatedAt <= l.rollout.updatedAt) continue;
      if (rollout.stageIndex !== l.rollout.stageIndex) l.tracker.startStage();
      l.rollout = rollout;
      if (TERMINAL_STATUSES.includes(rollout.status)) await this.retire(rollout);
    }
  }

  /** A decision rank served through a rollout. Ignored when the rollout is not in progress. */
  onDecision(d: RolloutDecisionEvent): void {
    const l = this.live.get(d.rolloutId);
    if (l && !TERMINAL_STATUSES.includes(l.rollout.status)) l.tracker.onDecision(d);
  }

  /** Every ingested event (with its session id filled); attributed to the user's session arm, if any. */
  onEvent(event: UserEvent): void {
    for (const l of this.live.values()) if (!TERMINAL_STATUSES.includes(l.rollout.status)) l.tracker.onEvent(event);
  }

  /** Whether the decision was already counted in the rollout (a retried append on the stream). */
  counted(rolloutId: string, decisionId: string): boolean {
    return this.live.get(rolloutId)?.tracker.hasDecision(decisionId) ?? false;
  }

  /** Whether some rollout in progress would count a click or purchase of this event. */
  tracksSessionOf(event: Pick<UserEvent, "userId" | "sessionId">): boolean {
    for (const l of this.live.values()) if (l.tracker.tracksSessionOf(event)) return true;
    return false;
  }

  /** Current statistics of a rollout in progress (undefined once it ended). */
  stats(id: string): RolloutStats | undefined {
    const l = this.live.get(id);
    return l && { arms: structuredClone(l.tracker.counters), stageUsers: l.tracker.stageUserCounts() };
  }

  route(userId: string, accept?: (r: Rollout) => boolean): RolloutRoute | undefined {
    return routeAmong(this.serving(), userId, accept);
  }

  private *serving(): Iterable<Rollout> {
    for (const l of this.live.values()) yield l.rollout;
    yield* this.promoted.values();
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
      if (!this.deps.deferStats) await this.saveStats(l);
      if (TERMINAL_STATUSES.includes(l.rollout.status)) await this.retire(l.rollout);
    }
    return results;
  }

  /** An admin's transition (pause, resume, advance, abort), written and audited like the automatic ones. */
  async manual(l: LiveRollout, next: Rollout, action: AuditEntry["action"], message: string): Promise<Rollout> {
    const stamped = { ...next, updatedAt: this.deps.clock.now() };
    await this.transition(l, stamped, { action: "hold", reasons: [{ code: action, message }] }, "admin", action);
    if (!this.deps.deferStats) await this.saveStats(l);
    if (TERMINAL_STATUSES.includes(stamped.status)) await this.retire(stamped);
    return stamped;
  }

  /** Saves every rollout's counters now (the server calls this on shutdown). */
  async flush(): Promise<void> {
    for (const l of this.live.values()) await this.saveStats(l);
  }

  /** What changed in every rollout's counters since the last call, ended ones included (deferStats: the caller writes them). */
  pendingSaves(): Array<[string, TrackerSave]> {
    const ended = this.endedSaves;
    this.endedSaves = [];
    return [
      ...ended,
      ...[...this.live.values()].map((l): [string, TrackerSave] => [l.rollout.id, l.tracker.pendingSave()]),
    ];
  }

  /** The caller could not write `pendingSaves()`: the next ones rewrite everything. */
  savesFailed(): void {
    for (const l of this.live.values()) l.tracker.saveFailed();
  }

  /** Writes the counters and what changed since the last write (rollout/tracker-changes.ts). */
  private async saveStats(l: LiveRollout): Promise<void> {
    try {
      await this.deps.writes.saveStats(l.rollout.id, l.tracker.pendingSave());
    } catch (e) {
      l.tracker.saveFailed();
      throw e;
    }
  }

  private async retire(rollout: Rollout): Promise<void> {
    const l = this.live.get(rollout.id);
    if (l && this.deps.deferStats) this.endedSaves.push([rollout.id, l.tracker.pendingSave()]);
    this.live.delete(rollout.id);
    if (rollout.status !== "completed") return;
    if (this.deps.onPromote) await this.deps.onPromote(rollout);
    else this.promoted.set(rollout.id, rollout);
  }

  private async evaluateGate(l: LiveRollout): Promise<OpeGateResult | null | undefined> {
    if (l.gate !== undefined) return l.gate;
    if (!this.deps.opeGate) return null;
    try {
      l.gate = (await this.deps.opeGate(l.rollout.candidate, l.rollout.incumbent)) ?? null;
    } catch {
      return undefined; // the gate's estimator failed: hold and retry at the next tick
    }
    return l.gate;
  }

  private async transition(
    l: LiveRollout,
    next: Rollout,
    decision: RolloutDecision,
    actor: AuditEntry["actor"],
    action: AuditEntry["action"] = decision.action,
  ): Promise<void> {
    const prev = l.rollout;
    l.rollout = next;
    if (next.stageIndex !== prev.stageIndex) l.tracker.startStage();
    await this.deps.writes.save(next);
    await this.audit(l, action, actor, prev, decision.reasons);
  }

  private async audit(
    l: LiveRollout,
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
    await this.deps.writes.appendAudit({
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
}
