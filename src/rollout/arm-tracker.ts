import type { UserEvent } from "../core/types.js";
import type { Arm, ArmCounters } from "./rollout-types.js";
import { emptyCounters } from "./rollout-types.js";
import { TrackerChanges } from "./tracker-changes.js";

/** What rank reports for each decision it routed through a rollout. */
export interface RolloutDecisionEvent {
  rolloutId: string;
  arm: Arm;
  userId: string;
  /** The feature store's session id; decisions without one share one pseudo-session per user. */
  sessionId?: string;
  timestamp: number;
  /** Lets a click carrying this decisionId be attributed exactly; otherwise clicks go to the session's last decision. */
  decisionId?: string;
}

export interface SessionState {
  arm: Arm;
  decisions: number;
  clicked: number;
  revenue: number;
  purchased: boolean;
  lastSeen: number;
  lastDecision: string;
}

export interface DecisionState {
  session: string;
  clicked: boolean;
  at: number;
}

export interface TrackerSnapshot {
  counters: Record<Arm, ArmCounters>;
  stageUsers: Record<Arm, string[]>;
  sessions: Array<[string, SessionState]>;
  decisions: Array<[string, DecisionState]>;
}

/**
 * What a store writes at a tick (RolloutStore.saveStats): the counters, and the sessions, decisions and stage
 * users changed since the last write (tracker-changes.ts says why not all of them).
 */
export interface TrackerSave {
  /** Replace everything stored for the rollout (otherwise apply the changes to it). */
  full: boolean;
  counters: Record<Arm, ArmCounters>;
  /** Sessions and decisions created or changed (all of them when `full`); the tracker's own objects. */
  sessions: Array<[string, SessionState]>;
  decisions: Array<[string, DecisionState]>;
  /** Keys forgotten (idle sessions, decisions past their click window); empty when `full`. */
  removed: { sessions: string[]; decisions: string[] };
  /** `reset`: forget the stored stage users first (a new stage, or `full`); `added`: users to add. */
  stageUsers: { reset: boolean; added: Record<Arm, string[]> };
}

export interface TrackerLimits {
  /** A session idle this long is forgotten (later events in it are not attributed). */
  sessionTtlMs: number;
  /** A decision can collect its click for this long. */
  clickWindowMs: number;
}

/**
 * Running per-arm counters of one rollout, updated per decision and event (no rescans of the log). Each
 * counter is a per-session sum or sum of squares, kept exact incrementally: when a session's value goes from
 * x to x + 1 its square's sum grows by 2x + 1 (see guardrail-stats.ts for how they become variances).
 * Only sessions that received a rollout decision count: exposure-based analysis.
 */
export class ArmTracker {
  readonly counters: Record<Arm, ArmCounters>;
  private readonly stageUsers: Record<Arm, Set<string>>;
  private readonly sessions: Map<string, SessionState>;
  private readonly decisions: Map<string, DecisionState>;
  /** Changes not yet written; a tracker resumed from the store starts with none, a fresh one writes all. */
  private changes: TrackerChanges;

  constructor(
    private readonly limits: TrackerLimits,
    snapshot?: TrackerSnapshot,
  ) {
    const own = snapshot && cloneSnapshot(snapshot);
    this.counters = own?.counters ?? { candidate: emptyCounters(), incumbent: emptyCounters() };
    this.stageUsers = { candidate: new Set(own?.stageUsers.candidate), incumbent: new Set(own?.stageUsers.incumbent) };
    this.sessions = new Map(own?.sessions);
    this.decisions = new Map(own?.decisions);
    this.changes = new TrackerChanges(snapshot === undefined);
  }

  onDecision(d: RolloutDecisionEvent): void {
    const key = sessionKey(d.userId, d.sessionId ?? "");
    let s = this.sessions.get(key);
    // A stage raise can move a user to the candidate mid-session: the rest is a new session of the new arm.
    if (!s || s.arm !== d.arm) {
      s = {
        arm: d.arm,
        decisions: 0,
        clicked: 0,
        revenue: 0,
        purchased: false,
        lastSeen: d.timestamp,
        lastDecision: "",
      };
      this.sessions.set(key, s);
      this.counters[d.arm].sessions++;
    }
    const c = this.counters[d.arm];
    c.decisions++;
    c.sumDecisionsSq += 2 * s.decisions + 1;
    c.sumClickedDecisions += s.clicked;
    s.decisions++;
    s.lastSeen = Math.max(s.lastSeen, d.timestamp);
    const decisionKey = d.decisionId ?? `${key}\u0000${d.timestamp}\u0000${s.decisions}`;
    s.lastDecision = decisionKey;
    this.decisions.set(decisionKey, { session: key, clicked: false, at: d.timestamp });
    this.changes.session(key);
    this.changes.decision(decisionKey);
    const users = this.stageUsers[d.arm];
    if (!users.has(d.userId)) {
      users.add(d.userId);
      this.changes.user(d.arm, d.userId);
    }
  }

  /** Attributes a click or purchase to the arm of the user's session; other events only keep it alive. */
  onEvent(e: UserEvent): void {
    if (e.sessionId === undefined) return;
    const key = sessionKey(e.userId, e.sessionId);
    const s = this.sessions.get(key);
    if (!s) return;
    s.lastSeen = Math.max(s.lastSeen, e.timestamp);
    this.changes.session(key);
    const c = this.counters[s.arm];
    if (e.type === "click") {
      c.clicks++;
      const byId = e.decisionId !== undefined ? this.decisions.get(e.decisionId) : undefined;
      const decision = byId ?? this.decisions.get(s.lastDecision);
      const owner = byId ? this.sessions.get(byId.session) : s;
      if (!decision || decision.clicked || !owner) return;
      decision.clicked = true;
      this.changes.decision(byId ? (e.decisionId as string) : s.lastDecision);
      this.changes.session(decision.session);
      const oc = this.counters[owner.arm];
      oc.clickedDecisions++;
      oc.sumClickedSq += 2 * owner.clicked + 1;
      oc.sumClickedDecisions += owner.decisions;
      owner.clicked++;
    } else if (e.type === "purchase") {
      const v = e.value ?? e.price ?? 0;
      c.purchases++;
      c.revenue += v;
      c.sumRevenueSq += (s.revenue + v) ** 2 - s.revenue ** 2;
      s.revenue += v;
      if (!s.purchased) {
        s.purchased = true;
        c.convertedSessions++;
      }
    }
  }

  /** Whether a decision with this id is counted and not yet forgotten (the duty's dedupe of retried appends). */
  hasDecision(decisionId: string): boolean {
    return this.decisions.has(decisionId);
  }

  /** Whether the event's session is tracked, i.e. a click or purchase in it would be counted. */
  tracksSessionOf(e: Pick<UserEvent, "userId" | "sessionId">): boolean {
    return e.sessionId !== undefined && this.sessions.has(sessionKey(e.userId, e.sessionId));
  }

  /** Forgets idle sessions and decisions past their click window (bounded memory). */
  prune(now: number): void {
    for (const [k, s] of this.sessions) {
      if (s.lastSeen >= now - this.limits.sessionTtlMs) continue;
      this.sessions.delete(k);
      this.changes.sessionRemoved(k);
    }
    for (const [k, d] of this.decisions) {
      if (d.at >= now - this.limits.clickWindowMs) continue;
      this.decisions.delete(k);
      this.changes.decisionRemoved(k);
    }
  }

  /** A new stage starts counting distinct users afresh (the SRM check compares one planned split). */
  startStage(): void {
    this.stageUsers.candidate.clear();
    this.stageUsers.incumbent.clear();
    this.changes.newStage();
  }

  stageUserCounts(): Record<Arm, number> {
    return { candidate: this.stageUsers.candidate.size, incumbent: this.stageUsers.incumbent.size };
  }

  /**
   * The changes to write now, and a fresh start for the next ones. The session and decision states are the
   * tracker's own objects: the store serializes or copies them before it awaits anything. Call
   * `saveFailed()` if the write failed: the next save then rewrites everything.
   */
  pendingSave(): TrackerSave {
    const c = this.changes;
    this.changes = new TrackerChanges(false);
    const counters = { candidate: { ...this.counters.candidate }, incumbent: { ...this.counters.incumbent } };
    if (c.full) {
      const added = { candidate: [...this.stageUsers.candidate], incumbent: [...this.stageUsers.incumbent] };
      const removed = { sessions: [], decisions: [] };
      const all = { sessions: [...this.sessions], decisions: [...this.decisions] };
      return { full: true, counters, ...all, removed, stageUsers: { reset: true, added } };
    }
    return {
      full: false,
      counters,
      sessions: present(this.sessions, c.sessions),
      decisions: present(this.decisions, c.decisions),
      removed: { sessions: [...c.removedSessions], decisions: [...c.removedDecisions] },
      stageUsers: { reset: c.stageReset, added: c.users },
    };
  }

  saveFailed(): void {
    this.changes.full = true;
  }

  snapshot(): TrackerSnapshot {
    return cloneSnapshot({
      counters: this.counters,
      stageUsers: { candidate: [...this.stageUsers.candidate], incumbent: [...this.stageUsers.incumbent] },
      sessions: [...this.sessions],
      decisions: [...this.decisions],
    });
  }
}

/** A deep copy by hand: structuredClone is ~10x slower on the tens of thousands of small session objects. */
export function cloneSnapshot(s: TrackerSnapshot): TrackerSnapshot {
  return {
    counters: { candidate: { ...s.counters.candidate }, incumbent: { ...s.counters.incumbent } },
    stageUsers: { candidate: [...s.stageUsers.candidate], incumbent: [...s.stageUsers.incumbent] },
    sessions: s.sessions.map(([k, v]) => [k, { ...v }]),
    decisions: s.decisions.map(([k, v]) => [k, { ...v }]),
  };
}

function present<V>(map: Map<string, V>, keys: Set<string>): Array<[string, V]> {
  const out: Array<[string, V]> = [];
  for (const k of keys) {
    const v = map.get(k);
    if (v !== undefined) out.push([k, v]);
  }
  return out;
}

function sessionKey(userId: string, sessionId: string): string {
  return `${userId}\u0000${sessionId}`;
}
