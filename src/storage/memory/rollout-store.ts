import type { TrackerSave, TrackerSnapshot } from "../../rollout/arm-tracker.js";
import { FencedOut, type FencedRolloutWrites, type FencingRolloutStore } from "../../rollout/rollout-store.js";
import type { AuditEntry, Rollout } from "../../rollout/rollout-types.js";
import { applyTrackerSave, type StoredTracker, snapshotOfStored } from "../../rollout/tracker-save.js";

/** In-memory rollout store: tests and the simulator's fast mode. Copies in and out, like a real store. */
export class MemoryRolloutStore implements FencingRolloutStore {
  private readonly rollouts = new Map<string, Rollout>();
  /** Per lease: the newest fencing token that wrote, and its last checkpoint. */
  private readonly fences = new Map<string, number>();
  private readonly checkpoints = new Map<string, string>();
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

  async fenced(lease: string, token: number): Promise<FencedRolloutWrites> {
    // Every write checks and raises the fence in one synchronous step: atomic in one process.
    const guard = () => {
      if ((this.fences.get(lease) ?? 0) > token) throw new FencedOut(lease, token);
      this.fences.set(lease, token);
    };
    guard();
    return {
      save: async (rollout) => {
        guard();
        await this.save(rollout);
      },
      appendAudit: async (entry) => {
        guard();
        await this.appendAudit(entry);
      },
      saveStats: async (rolloutId, save) => {
        guard();
        await this.saveStats(rolloutId, save);
      },
      checkpoint: async (stats, consumer) => {
        guard();
        for (const [rolloutId, save] of stats) await this.saveStats(rolloutId, save);
        this.checkpoints.set(lease, consumer);
      },
    };
  }

  async loadCheckpoint(lease: string): Promise<string | undefined> {
    return this.checkpoints.get(lease);
  }

  async close(): Promise<void> {}
}
