import type { DecisionState, SessionState, TrackerSave, TrackerSnapshot } from "./arm-tracker.js";
import type { Arm, ArmCounters } from "./rollout-types.js";

/** A tracker's stored state, keyed: what a store rebuilds by applying saves in order. */
export interface StoredTracker {
  counters: Record<Arm, ArmCounters>;
  sessions: Map<string, SessionState>;
  decisions: Map<string, DecisionState>;
  stageUsers: Record<Arm, Set<string>>;
}

const ARMS = ["candidate", "incumbent"] as const;

/** Changes are folded into the snapshot once they outweigh it, and not before they reach this size. */
const MIN_FOLD_BYTES = 64 * 1024;

/**
 * Whether a store keeping a snapshot plus change documents should fold them into a new snapshot now: once
 * the changes outweigh the snapshot, so writing stays proportional to what changed and reading to the
 * snapshot's size.
 */
export function foldDue(bytes: { snapshot: number; changes: number }): boolean {
  return bytes.changes > Math.max(bytes.snapshot, MIN_FOLD_BYTES);
}

/** Applies one save to `state` (undefined: nothing stored yet); copies what it keeps from `save`. */
export function applyTrackerSave(state: StoredTracker | undefined, save: TrackerSave): StoredTracker {
  const s: StoredTracker =
    state && !save.full
      ? state
      : { counters: save.counters, sessions: new Map(), decisions: new Map(), stageUsers: emptyUsers() };
  s.counters = { candidate: { ...save.counters.candidate }, incumbent: { ...save.counters.incumbent } };
  if (save.stageUsers.reset) s.stageUsers = emptyUsers();
  for (const k of save.removed.sessions) s.sessions.delete(k);
  for (const k of save.removed.decisions) s.decisions.delete(k);
  for (const [k, v] of save.sessions) s.sessions.set(k, { ...v });
  for (const [k, v] of save.decisions) s.decisions.set(k, { ...v });
  for (const arm of ARMS) for (const u of save.stageUsers.added[arm]) s.stageUsers[arm].add(u);
  return s;
}

export function storedFromSnapshot(snapshot: TrackerSnapshot): StoredTracker {
  return applyTrackerSave(undefined, {
    full: true,
    counters: snapshot.counters,
    sessions: snapshot.sessions,
    decisions: snapshot.decisions,
    removed: { sessions: [], decisions: [] },
    stageUsers: { reset: true, added: snapshot.stageUsers },
  });
}

/** A copy of the stored state as a snapshot (what ArmTracker resumes from). */
export function snapshotOfStored(s: StoredTracker): TrackerSnapshot {
  return {
    counters: { candidate: { ...s.counters.candidate }, incumbent: { ...s.counters.incumbent } },
    stageUsers: { candidate: [...s.stageUsers.candidate], incumbent: [...s.stageUsers.incumbent] },
    sessions: [...s.sessions].map(([k, v]) => [k, { ...v }]),
    decisions: [...s.decisions].map(([k, v]) => [k, { ...v }]),
  };
}

function emptyUsers(): Record<Arm, Set<string>> {
  return { candidate: new Set(), incumbent: new Set() };
}
