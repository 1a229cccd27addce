import type { Arm } from "./rollout-types.js";

/**
 * What an ArmTracker changed since its counters were last written to the store: the keys of the sessions and
 * decisions it created, changed or forgot, and the stage users it added. The store writes only those at a
 * tick (the server ticks every second), instead of every session, decision and stage user each time: a
 * day-long stage holds tens of thousands of users, and rewriting them whole made each tick cost
 * milliseconds (most of a simulated week-long rollout's time). `full` means "write everything": a fresh
 * tracker, or after a failed write (the store then holds an unknown part of the previous changes).
 */
export class TrackerChanges {
  readonly sessions = new Set<string>();
  readonly decisions = new Set<string>();
  readonly removedSessions = new Set<string>();
  readonly removedDecisions = new Set<string>();
  readonly users: Record<Arm, string[]> = { candidate: [], incumbent: [] };
  /** A new stage began: the stored stage users must go. */
  stageReset = false;

  constructor(public full: boolean) {}

  session(key: string): void {
    if (this.full) return;
    this.sessions.add(key);
    this.removedSessions.delete(key);
  }

  sessionRemoved(key: string): void {
    if (this.full) return;
    this.sessions.delete(key);
    this.removedSessions.add(key);
  }

  decision(key: string): void {
    if (this.full) return;
    this.decisions.add(key);
    this.removedDecisions.delete(key);
  }

  decisionRemoved(key: string): void {
    if (this.full) return;
    this.decisions.delete(key);
    this.removedDecisions.add(key);
  }

  user(arm: Arm, userId: string): void {
    if (!this.full) this.users[arm].push(userId);
  }

  newStage(): void {
    this.stageReset = true;
    this.users.candidate = [];
    this.users.incumbent = [];
  }
}
