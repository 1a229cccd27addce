import type { DecisionState, SessionState, TrackerSave, TrackerSnapshot } from "../../rollout/arm-tracker.js";
import type { RolloutStore } from "../../rollout/rollout-store.js";
import type { Arm, ArmCounters, AuditEntry, Rollout } from "../../rollout/rollout-types.js";

interface StoredStats {
  counters: Record<Arm, ArmCounters>;
  sessions: Map<string, SessionState>;
  decisions: Map<string, DecisionState>;
  stageUsers: Record<Arm, Set<string>>;
}

/** In-memory rollout store: tests and the simulator's fast mode. Copies in and out, like a real store. */
export class MemoryRolloutStore implements RolloutStore {
  private readonly rollouts = new Map<string, Rollout>();
  private readonly log: AuditEntry[] = [];
  private readonly stats = new Map<string, StoredStats>();

  async save(rollout: Rollout): Promise<void> {
    this.rollouts.set(rollout.id, structuredClone(rollout));
  }

  async get(id: string): Promise<Rollout | undefined> {
    const r = this.rollouts.get(id);
    return r && structuredClone(r);
  }

  async list(): Promise<Rollout[]> {
    return [...this.rollouts.values()].sort((a, b) => b.createdAt - a.createdAt).map((r) => structuredClone(r));
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.log.push(structuredClone(entry));
  }

  async audit(rolloutId: string): Promise<AuditEntry[]> {
    return this.log.filter((e) => e.rolloutId === rolloutId).map((e) => structuredClone(e));
  }

  async saveStats(rolloutId: string, save: TrackerSave): Promise<void> {
    const before = this.stats.get(rolloutId);
    const s: StoredStats =
      before && !save.full
        ? before
        : { counters: save.counters, sessions: new Map(), decisions: new Map(), stageUsers: emptyUsers() };
    s.counters = structuredClone(save.counters);
    if (save.stageUsers.reset) s.stageUsers = emptyUsers();
    for (const k of save.removed.sessions) s.sessions.delete(k);
    for (const k of save.removed.decisions) s.decisions.delete(k);
    for (const [k, v] of save.sessions) s.sessions.set(k, { ...v });
    for (const [k, v] of save.decisions) s.decisions.set(k, { ...v });
    for (const arm of ["candidate", "incumbent"] as const)
      for (const u of save.stageUsers.added[arm]) s.stageUsers[arm].add(u);
    this.stats.set(rolloutId, s);
  }

  async loadStats(rolloutId: string): Promise<TrackerSnapshot | undefined> {
    const s = this.stats.get(rolloutId);
    if (!s) return undefined;
    return {
      counters: structuredClone(s.counters),
      stageUsers: { candidate: [...s.stageUsers.candidate], incumbent: [...s.stageUsers.incumbent] },
      sessions: [...s.sessions].map(([k, v]) => [k, { ...v }]),
      decisions: [...s.decisions].map(([k, v]) => [k, { ...v }]),
    };
  }

  async close(): Promise<void> {}
}

function emptyUsers(): Record<Arm, Set<string>> {
  return { candidate: new Set(), incumbent: new Set() };
}
