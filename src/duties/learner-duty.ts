import { setImmediate as nextTurn } from "node:timers/promises";
import type { BasePolicy, PolicySnapshot } from "../bandit/base-policy.js";
import type { Policy, PolicyFeedback } from "../bandit/policy.js";
import { PolicyFencedOut, policyFenceName } from "../bandit/policy-store.js";
import { SnapshotFencedOut } from "../stream/snapshot-store.js";
import { StreamPositions } from "../stream/stream-positions.js";
import type { Duty, DutyContext, StepOutcome } from "./duty.js";
import { CheckpointLog, type LearnerCheckpoint, readCheckpoint } from "./learner-checkpoint.js";
import { DEFAULT_JOIN_OPTIONS, type JoinOptions, type JoinState, StreamJoin } from "./learner-join.js";
import { type LearnerStatus, reportLearner } from "./learner-metrics.js";
import { PolicyPublisher, policySnapshotName } from "./learner-snapshots.js";
import { PartitionMerge } from "./partition-merge.js";
import { restoreInTurns, snapshotInSlices } from "./sliced-policy-snapshot.js";

/**
 * The joiner + learner of one policy as a worker duty (issue 13): under the lease `learner:<policyId>` it
 * reads the decision stream by id from the positions of its checkpoint over every partition (merged in a
 * deterministic order, partition-merge.ts), joins rewards with the one reducer (learner-join.ts), checkpoints
 * {policy, open windows, stream positions} with a fenced write, moves the consumer group of the same name (its
 * retention marker) to those positions, and publishes the policy as versions of `policy:<policyId>`
 * (learner-snapshots.ts). A standby that gains the lease restores the checkpoint and reads on from exactly
 * where the last accepted checkpoint left off; a stale holder reads copies, never takes entries from it.
 */
export interface LearnerDutyOptions extends JoinOptions {
  /** Checkpoint after this many entries applied. */
  checkpointEvery: number;
  /** …or when this long passed since the last checkpoint with something new (also the heartbeat period). */
  checkpointMs: number;
  /** A full snapshot every this many published versions (deltas between). */
  fullEvery: number;
  /**
   * An entry is applied once it is this much older than the step's time, unless every partition has an entry
   * waiting (partition-merge.ts, "Settling"): the live order then equals the order of the whole stream. At
   * most `slackMs` (a window closed on the clock must not miss an entry still settling).
   */
  settleMs: number;
  /** A full checkpoint every this many checkpoints, deltas between (learner-checkpoint.ts, "Incremental"). */
  fullCheckpointEvery: number;
  /** Entries read per partition per read. */
  batch: number;
  /** Entries applied per step at most (a step must return well inside the lease's ttl). */
  maxEntriesPerStep: number;
  /**
   * Every this many accepted checkpoints, save the policy to the PolicyStore (the durable store: learning
   * survives a Redis that lost its data) and pick up a re-registration (a newer spec revision there).
   */
  persistEvery: number;
}

export const DEFAULT_LEARNER_OPTIONS: LearnerDutyOptions = {
  ...DEFAULT_JOIN_OPTIONS,
  checkpointEvery: 5_000,
  checkpointMs: 1_000,
  fullEvery: 50,
  settleMs: 1_000,
  fullCheckpointEvery: 20,
  batch: 200,
  maxEntriesPerStep: 5_000,
  persistEvery: 10,
};

/** The lease's name is also where the policy store keeps the fence of the policy's saves. */
export function learnerDutyName(policyId: string): string {
  return policyFenceName(policyId);
}

/** A learner duty for every stored policy without one in `have` (duty names): call again to pick up new ones. */
export async function createLearnerDuties(
  ctx: DutyContext,
  have: ReadonlySet<string> = new Set(),
  options: Partial<LearnerDutyOptions> = {},
): Promise<LearnerDuty[]> {
  const ids = await ctx.policies.ids(); // ids only: a worker polls this every workers.policyRefresh
  return ids.filter((id) => !have.has(learnerDutyName(id))).map((id) => createLearnerDuty(ctx, id, options));
}

export function createLearnerDuty(
  ctx: DutyContext,
  policyId: string,
  options: Partial<LearnerDutyOptions> = {},
): LearnerDuty {
  const merged = { ...DEFAULT_LEARNER_OPTIONS, ...options };
  // Refused, not clamped: the config refuses it too (workers.learnerSettle), naming the field.
  if (!(merged.settleMs >= 0 && merged.settleMs <= merged.slackMs)) {
    throw new RangeError(`learner: settleMs (${merged.settleMs}) must be between 0 and slackMs (${merged.slackMs})`);
  }
  return new LearnerDuty(ctx, policyId, merged);
}

/** What one lease term holds; dropped on stop (another holder owns the state then). */
interface Term {
  token: number;
  policy: BasePolicy;
  /** The policy as the join sees it: updates recorded for the next delta (see `recorder`). */
  recording: Policy;
  join: StreamJoin;
  positions: StreamPositions;
  merge: PartitionMerge;
  publisher: PolicyPublisher;
  applied: number;
  sinceCheckpoint: number;
  lastCheckpointAt: number;
  checkpoints: number;
  checkpointBytes: number;
  checkpointKind?: "full" | "delta";
  log: CheckpointLog;
}

export class LeaseLostError extends Error {
  constructor(name: string, token: number) {
    super(`${name}: a write fenced with token ${token} was refused (the lease moved on); stopping this term`);
    this.name = "LeaseLostError";
  }
}

export class LearnerDuty implements Duty {
  readonly name: string;
  private term: Term | undefined;

  constructor(
    private readonly ctx: DutyContext,
    readonly policyId: string,
    readonly options: LearnerDutyOptions,
  ) {
    this.name = learnerDutyName(policyId);
    reportLearner(ctx.metrics, policyId, () => this.status());
  }

  async start(token: number): Promise<void> {
    const { ctx, name } = this;
    await ctx.stream.ensureGroup(name, "start");
    const restored = await readCheckpoint(ctx.leases, name, ctx.config.rewards.window);
    const checkpoint = restored?.checkpoint;
    const policy = await this.initialPolicy(checkpoint);
    // The deltas' updates, on the full's policy (not on a re-registered one, which starts fresh).
    if (restored && policy.version === checkpoint!.policy.version) for (const f of restored.updates) policy.update(f);
    const publisher = new PolicyPublisher(
      ctx.snapshots,
      policySnapshotName(this.policyId),
      this.options.fullEvery,
      token,
    );
    const join = new StreamJoin(
      this.policyId,
      {
        windowMs: ctx.config.rewards.window,
        defaultReward: ctx.config.rewards.defaultReward,
        aggregation: ctx.config.rewards.aggregation,
      },
      () => this.term?.recording,
      ctx.metrics,
      ctx.logger,
      this.options,
    );
    if (checkpoint) await join.restoreInSlices(checkpoint.join, () => nextTurn());
    const positions = new StreamPositions(checkpoint?.positions);
    const { batch, settleMs } = this.options;
    const merge = new PartitionMerge(ctx.stream, name, ctx.workerId, positions, batch, settleMs);
    await merge.releasePending();
    const now = ctx.clock.now();
    const log = new CheckpointLog(checkpoint?.generation ?? 0, this.options.fullCheckpointEvery);
    const term: Term = {
      token,
      policy,
      recording: recorder(policy, (f) => {
        publisher.record(f);
        log.record(f);
      }),
      log,
      join,
      positions,
      merge,
      publisher,
      applied: checkpoint?.applied ?? 0,
      sinceCheckpoint: 0,
      lastCheckpointAt: now,
      checkpoints: 0,
      checkpointBytes: restored?.bytes ?? 0,
    };
    this.term = term;
    await this.publish(term, () => snapshotInSlices(policy), now); // a full on start: followers resync to this holder
    const deltas = restored?.deltas ?? 0;
    ctx.logger.info(
      { duty: name, token, applied: term.applied, restored: Boolean(checkpoint), deltas },
      "learner started",
    );
  }

  async step(now: number): Promise<StepOutcome | undefined> {
    const term = this.term;
    if (!term) return;
    term.merge.beginStep(now);
    let n = 0;
    while (n < this.options.maxEntriesPerStep) {
      const delivered = await term.merge.next();
      if (!delivered) break;
      term.join.apply(delivered.entry);
      n++;
    }
    // Caught up on every partition: the stream is quiet, so windows close on the clock (learner-join.ts), as
    // far as the stream has settled (every entry older than now - settleMs is applied; one still settling
    // would, applied, close those windows itself before its own effects).
    if (term.merge.idle) term.join.closeThrough(now - this.options.settleMs - this.options.slackMs);
    term.applied += n;
    term.sinceCheckpoint += n;
    const dirty = term.sinceCheckpoint > 0 || term.publisher.pendingUpdates > 0;
    const elapsed = now - term.lastCheckpointAt >= this.options.checkpointMs;
    if (term.sinceCheckpoint >= this.options.checkpointEvery || (elapsed && dirty)) await this.checkpoint(now);
    else if (elapsed) await this.heartbeat(term, now);
    return n === 0 && term.merge.idle ? "idle" : undefined;
  }

  async stop(): Promise<void> {
    this.term = undefined;
  }

  /**
   * Writes the checkpoint (fenced; a full or a delta, learner-checkpoint.ts), then moves the retention marker
   * to it, then publishes. Throws when the lease moved on.
   */
  async checkpoint(now: number): Promise<void> {
    const term = this.term;
    if (!term) return;
    // Taken in slices (sliced-policy-snapshot.ts): copy on write keeps it the state as of the call, which is the
    // checkpoint's (nothing applies entries until this step returns, and the join is read after it).
    const snapshot = () => snapshotInSlices(term.policy);
    const write = await term.log.next(snapshot, term.join, term.positions.toJSON(), term.applied);
    const ok = await this.ctx.leases.fencedWrite(this.name, term.token, write.key, write.bytes);
    if (!ok) {
      this.term = undefined;
      throw new LeaseLostError(this.name, term.token);
    }
    write.accepted();
    term.sinceCheckpoint = 0;
    term.lastCheckpointAt = now;
    term.checkpointBytes = write.bytes.byteLength;
    term.checkpointKind = write.kind;
    await term.merge.commitPositions();
    // The policy is as checkpointed until the next step: a snapshot taken now is the checkpoint's.
    const checkpointed = write.policy ? async () => write.policy! : snapshot;
    await this.publish(term, checkpointed, now);
    if (++term.checkpoints % this.options.persistEvery === 0) await this.syncWithStore(term, checkpointed, now);
  }

  /**
   * Saves the policy to the PolicyStore, unless the store holds a newer spec revision: then the policy was
   * re-registered with other parameters, and learning continues on it from here (as the embedded learner
   * does: its open windows feed the new policy), published as a full. Fenced with the term's token: a holder
   * frozen past its lease after its accepted checkpoint would otherwise put that older policy over the new
   * holder's save (same revision, fewer updates); the store refuses it and this term ends.
   */
  private async syncWithStore(term: Term, checkpointed: () => Promise<PolicySnapshot>, now: number): Promise<void> {
    // The revision first: the snapshot (tens of MB for the default policy) is read only when it is newer.
    const revision = await this.ctx.policies.revision(this.policyId);
    const stored =
      revision !== undefined && revision > term.policy.version && (await this.ctx.policies.load(this.policyId));
    if (stored && stored.snapshot.version > term.policy.version) {
      // Restored in turns (the lease renewals run between them), swapped in whole; the step that got here
      // awaits it, so no entry is applied to either policy meanwhile.
      term.policy = await restoreInTurns(stored.snapshot);
      term.recording = recorder(term.policy, (f) => {
        term.publisher.record(f);
        term.log.record(f);
      });
      term.publisher.resync();
      term.log.forceFull();
      this.ctx.logger.info({ duty: this.name, version: term.policy.version }, "learner: policy re-registered");
      return;
    }
    try {
      // Handed over: the checkpoint's snapshot is not used after this save (the publish serialized it already), so
      // the store may encode it on a thread of its own, its arrays transferred (PostgreSQL: ~35 MB at 2,000 arms).
      await this.ctx.policies.save(await checkpointed(), now, { fence: term.token, handOver: true });
    } catch (error) {
      if (!(error instanceof PolicyFencedOut)) throw error;
      if (this.term === term) this.term = undefined;
      throw new LeaseLostError(this.name, term.token);
    }
  }

  /** Where this term is (tests, status): undefined when not holding the lease. */
  status(): (LearnerStatus & { updates: number; checkpoints: number }) | undefined {
    const t = this.term;
    if (!t) return undefined;
    const published = t.publisher.published;
    return {
      applied: t.applied,
      updates: t.policy.updates,
      openWindows: t.join.openWindows,
      checkpointBytes: t.checkpointBytes,
      checkpoints: t.checkpoints,
      ...(published === undefined ? {} : { published }),
    };
  }

  /** The join's state as plain data now (tests compare it with what a restore from the checkpoints gives). */
  joinState(): JoinState | undefined {
    return this.term?.join.toState();
  }

  /** The learner's policy (tests compare its snapshot with a follower's and an uninterrupted learner's). */
  get policy(): BasePolicy | undefined {
    return this.term?.policy;
  }

  /** Nothing new since the last checkpoint: an empty delta keeps followers' snapshot age bounded. */
  private async heartbeat(term: Term, now: number): Promise<void> {
    term.lastCheckpointAt = now;
    await this.publish(term, () => snapshotInSlices(term.policy), now, true);
  }

  /**
   * Publishes fenced with the term's token. A holder frozen past its lease may wake between an accepted
   * checkpoint and its publish, or with a heartbeat due: the store refuses it once the new holder published
   * (its full at start), and this term ends as when its checkpoint is refused.
   */
  private async publish(
    term: Term,
    snapshot: () => Promise<PolicySnapshot>,
    now: number,
    heartbeat = false,
  ): Promise<void> {
    try {
      await term.publisher.publish(snapshot, now, heartbeat);
    } catch (error) {
      if (!(error instanceof SnapshotFencedOut)) throw error;
      if (this.term === term) this.term = undefined;
      throw new LeaseLostError(this.name, term.token);
    }
  }

  /**
   * The checkpoint's policy, unless the store holds a newer spec revision (re-registered with other
   * parameters: it starts fresh, keeping the stream positions); the first time, the store's.
   */
  private async initialPolicy(checkpoint: LearnerCheckpoint | undefined): Promise<BasePolicy> {
    // The stored revision first: the stored snapshot (tens of MB) is read only when the checkpoint's is not newer.
    const revision = await this.ctx.policies.revision(this.policyId);
    // Restored in turns: a standby that takes over keeps renewing its other leases (and an `--role all` process
    // keeps serving) while the default policy's 2,000 arms are rebuilt (100-120 ms in one turn).
    if (checkpoint && (revision === undefined || checkpoint.policy.version >= revision)) {
      return restoreInTurns(checkpoint.policy);
    }
    // A large stored snapshot is decoded off the event loop by the store (PostgreSQL: policy-snapshot-parts.ts).
    const stored = await this.ctx.policies.load(this.policyId);
    if (!stored) throw new Error(`${this.name}: policy "${this.policyId}" is not in the policy store`);
    return restoreInTurns(stored.snapshot);
  }
}

/** The policy as the join sees it: every update is applied, then recorded for the next delta. */
function recorder(policy: BasePolicy, record: (f: PolicyFeedback) => void): Policy {
  return Object.assign(Object.create(policy) as Policy, {
    update(feedback: PolicyFeedback): void {
      policy.update(feedback);
      record(feedback);
    },
  });
}
