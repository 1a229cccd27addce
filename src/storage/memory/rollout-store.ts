import type { TrackerSave, TrackerSnapshot } from "../../rollout/arm-tracker.js";
import type { RolloutStore } from "../../rollout/rollout-store.js";
import type { AuditEntry, Rollout } from "../../rollout/rollout-types.js";
import { applyTrackerSave, type StoredTracker, snapshotOfStored } from "../../rollout/tracker-save.js";

/** In-memory rollout store: tests and the simulator's fast mode. Copies in and out, like a real store. */
export class MemoryRolloutStore implements RolloutStore {
  private readonly rollouts = new Map<string, Rollout>();
  private readonly log: AuditEntry[] = [];
  private readonly stats = new Map<string, StoredTracker>();

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
    this.stats.set(rolloutId, applyTrackerSave(this.stats.get(rolloutId), save));
  }

  async loadStats(rolloutId: string): Promise<TrackerSnapshot | undefined> {
    const s = this.stats.get(rolloutId);
    return s && snapshotOfStored(s);
  }

  async close(): Promise<void> {}
}
