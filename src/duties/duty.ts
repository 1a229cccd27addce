import type { Logger } from "pino";
import type { LoopwiseConfig } from "../app/config.js";
import type { EngineMetrics } from "../app/metrics.js";
import type { PolicyStore } from "../bandit/policy-store.js";
import type { Clock } from "../core/clock.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { DecisionStream } from "../stream/decision-stream.js";
import type { LeaseStore } from "../stream/lease-store.js";
import type { SnapshotStore } from "../stream/snapshot-store.js";

/**
 * The distributed loop's engines (issue 13): the decision stream serving appends to, leases with fencing
 * tokens, snapshot publication. Memory adapters in one process (`storage/memory/`), Redis for scale-out
 * (`storage/redis/`). The composition root picks them (`createEngine({ adapters })`).
 */
export interface StreamAdapters {
  stream: DecisionStream;
  leases: LeaseStore;
  snapshots: SnapshotStore;
}

/**
 * A worker duty: work exactly one worker does at a time, under the lease named `name` (the joiner + learner of
 * a policy, the rollout controller, the dashboard's fold, the recommender trainer, the stream trimmer).
 * A `DutyRunner` (duty-runner.ts) ticks the lease and calls these; a second worker stands by and takes over
 * when the lease lapses.
 *
 * - `start(token)` runs when this worker gains the lease: restore state from the last checkpoint (written
 *   with `leases.fencedWrite(name, token, …)` or a token-guarded store write), claim the group's pending
 *   entries (`minIdleMs: 0`: the lease says the old holder is gone), then return.
 * - `step(now)` runs repeatedly while the lease is held: consume a batch, apply it, checkpoint, ack, publish.
 *   It must return in well under the lease's ttl (bounded batches) so the runner can renew. It resolves
 *   `"idle"` when it found nothing to do (nothing new in the stream, nothing due): the runner then waits longer
 *   before the next step, so an idle cluster's workers do not poll every partition 40 times a second.
 * - `stop()` runs when the lease is lost or the worker shuts down: stop, drop in-memory state (a lost lease
 *   means another worker now owns it; its fenced writes would be refused anyway).
 */
export interface Duty {
  readonly name: string;
  start(token: number): Promise<void>;
  // biome-ignore lint/suspicious/noConfusingVoidType: a duty with nothing to report keeps `async step(): Promise<void>`
  step(now: number): Promise<StepOutcome | void>;
  stop(): Promise<void>;
}

/** `"idle"`: the step found nothing to do; nothing: it did some work (see `step`). */
export type StepOutcome = "idle";

/** What a duty may use; the worker role's composition root builds it once and passes it to each factory. */
export interface DutyContext extends StreamAdapters {
  config: LoopwiseConfig;
  clock: Clock;
  logger: Logger;
  metrics: EngineMetrics;
  /** The durable log (SQLite embedded, PostgreSQL for scale-out): what duties read history from. */
  decisions: DecisionStore;
  policies: PolicyStore;
  /** This worker's name in leases and consumer groups (host:pid by default). */
  workerId: string;
}
