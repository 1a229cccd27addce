import type { TrackerSave, TrackerSnapshot } from "./arm-tracker.js";
import type { AuditEntry, Rollout } from "./rollout-types.js";

/**
 * The rollout port: rollouts (state), their audit log, and the per-arm counters snapshot, so a new
 * controller on the same store resumes the same stage with the same statistics. Adapters: memory, sqlite.
 */
export interface RolloutStore {
  /** Inserts or replaces a rollout by id. */
  save(rollout: Rollout): Promise<void>;
  get(id: string): Promise<Rollout | undefined>;
  /** All rollouts, newest first. */
  list(): Promise<Rollout[]>;
  appendAudit(entry: AuditEntry): Promise<void>;
  /** The audit log of one rollout, oldest first. */
  audit(rolloutId: string): Promise<AuditEntry[]>;
  /**
   * Writes a tick's counters: replaces counters, sessions and decisions; adds the new stage users (after
   * forgetting the stored ones when `stageUsers.reset`), all or nothing. Copies or serializes `save` before
   * its first await (the tracker keeps mutating its session objects).
   */
  saveStats(rolloutId: string, save: TrackerSave): Promise<void>;
  /** Everything the saves wrote, stage users accumulated in the order they were added. */
  loadStats(rolloutId: string): Promise<TrackerSnapshot | undefined>;
  close(): Promise<void>;
}
