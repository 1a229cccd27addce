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

/**
 * A lease holder's write refused (issue 13): a holder with a newer fencing token has written since, so this
 * one lost its lease (a pause past its ttl) and must stop; nothing of the refused write was stored.
 */
export class FencedOut extends Error {
  constructor(
    readonly lease: string,
    readonly token: number,
  ) {
    super(`write of lease ${lease} with fencing token ${token} refused: a newer holder has written`);
    this.name = "FencedOut";
  }
}

/**
 * The writes of the rollout duty's lease holder: each is refused with `FencedOut` (nothing written) once a
 * holder with a newer token wrote (Kleppmann 2016: the store checks the fencing token, not the holder).
 */
export interface FencedRolloutWrites {
  save(rollout: Rollout): Promise<void>;
  appendAudit(entry: AuditEntry): Promise<void>;
  saveStats(rolloutId: string, save: TrackerSave): Promise<void>;
  /**
   * The counters of every rollout and the consumer's own state (stream positions, ids seen), all or nothing:
   * after a restart counters and reading position agree, so a replay counts nothing twice.
   */
  checkpoint(stats: Array<[string, TrackerSave]>, consumer: string): Promise<void>;
}

/** A rollout store that can guard the duty's writes with its fencing token (memory, PostgreSQL). */
export interface FencingRolloutStore extends RolloutStore {
  /**
   * The writes of `lease`'s holder with `token`. Claims the fence at once: from here on every older token's
   * write is refused (a stale holder cannot write between this holder's start and its first write).
   */
  fenced(lease: string, token: number): Promise<FencedRolloutWrites>;
  /** The consumer state of `lease`'s last checkpoint. */
  loadCheckpoint(lease: string): Promise<string | undefined>;
}
