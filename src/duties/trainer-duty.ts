import { MODEL_SNAPSHOT } from "../app/model-follower.js";
import { RETRAIN_REQUESTS } from "../app/retrain-request.js";
import type { EventLog } from "../events/event-log.js";
import { encodeModel } from "../recommend/model-store.js";
import type { SessionModel } from "../recommend/session-model.js";
import { trainFromEventLog } from "../recommend/train-from-log.js";
import { SnapshotFencedOut } from "../stream/snapshot-store.js";
import type { Duty, DutyContext } from "./duty.js";
import { LeaseLostError } from "./learner-duty.js";

/** The trainer's lease and duty name (the lead's naming). */
export const TRAINER_DUTY = "trainer";
export { MODEL_SNAPSHOT };

/** The fenced key (in the trainer lease's space) that records the last published model. */
const STATE_KEY = "state";

/** What the trainer checkpoints, with its lease token, after each published model. */
interface TrainerState {
  /** The snapshot version it published. */
  version: number;
  /** When that model was trained (the engine's clock): the next training is due `retrainEvery` after it. */
  trainedAt: number;
  /** The last retrain request (app/retrain-request.ts) that model answers; 0 or absent: none. */
  request?: number;
}

/** How often the trainer looks for a retrain request from an API node (one small read). */
const REQUEST_POLL_MS = 1_000;

export interface TrainerDutyOptions {
  /** The durable event log the recommender learns from (PostgreSQL in scale-out). */
  events: EventLog;
  /**
   * Fits a model on the events from `from` on. Default: `trainFromEventLog` on this thread; pass a
   * `trainInWorker`-based function (recommend/train-in-worker.ts, with app/recommender.ts `eventLogLoader`)
   * to keep a long fit off the worker's event loop, so lease renewals and other duties are not delayed by it.
   */
  train?: (from: number) => Promise<SessionModel>;
}

/** The trainer duty, with what tests and the admin "retrain now" need beside the `Duty` port. */
export interface TrainerDuty extends Duty {
  /** Makes the next `step` train, whatever the schedule says. */
  trigger(): void;
  /** Resolves when no training or publish is running (tests; a clean stop waits for it too). */
  idle(): Promise<void>;
}

/**
 * The recommender trainer (issue 13): under the `trainer` lease, retrains the session recommender from the
 * durable event log every `recommend.retrainEvery` (over the last `recommend.trainWindow`) and publishes each
 * model whole as the next full `model:recommender` snapshot; API nodes swap it in (app/model-follower.ts).
 * Models are retrained whole, so there are no deltas: retention keeps the last two fulls.
 *
 * Exactly one trainer publishes: before publishing version v it records {v, trainedAt} with a fenced write
 * under its lease token, and publishes only when that write was accepted, so a trainer that lost its lease
 * (SIGSTOP past the ttl, a partition) drops its model instead. The publish carries the token too: a trainer
 * that lost its lease between the two is refused by the snapshot store once a newer holder published
 * (`SnapshotFencedOut`), whatever the versions. Either refusal ends the term: the next `step` throws
 * `LeaseLostError`, and the runner stops the duty and stands by. The snapshot store also refuses a version
 * that is not above the latest, so two trainers can never publish the same version. A new holder restores the
 * record and trains when the last model is `retrainEvery` old, not at once after every failover.
 *
 * An admin's retrain on an API node (POST /v1/models/train in scale-out) is a request the trainer picks up
 * within about a second (app/retrain-request.ts); the request it answered is recorded in the fenced state
 * with the model, so a request survives a failover and is trained for once.
 *
 * `step` never waits for a fit (it starts one and returns, so the runner keeps renewing the lease); the fit
 * and its publish run beside it, one at a time.
 */
export function createTrainerDuty(ctx: DutyContext, options: TrainerDutyOptions): TrainerDuty {
  const { retrainEvery, trainWindow, model: family } = ctx.config.recommend;
  const train =
    options.train ?? ((from: number) => trainFromEventLog(options.events, { model: family, clock: ctx.clock, from }));
  let token: number | undefined;
  let dueAt = 0;
  let running: Promise<void> | undefined;
  /** The newest request seen, and the one the last published model answered. */
  let requested = 0;
  let answered = 0;
  let requestsCheckedAt = Number.NEGATIVE_INFINITY;
  /** The token of this term when one of its fenced writes was refused: the next step ends the term. */
  let lost: number | undefined;

  const leaseLost = (held: number, version: number): void => {
    if (token === held) lost = held;
    ctx.logger.warn({ version, token: held }, "trainer lost its lease: the model it trained is not published");
  };

  const publish = async (held: number, model: SessionModel, request: number): Promise<void> => {
    const latest = await ctx.snapshots.latest(MODEL_SNAPSHOT);
    const version = (latest?.version ?? 0) + 1;
    const state: TrainerState = { version, trainedAt: model.trainedAt, request };
    const bytes = new TextEncoder().encode(JSON.stringify(state));
    if (!(await ctx.leases.fencedWrite(TRAINER_DUTY, held, STATE_KEY, bytes))) return leaseLost(held, version);
    try {
      await ctx.snapshots.publish(MODEL_SNAPSHOT, version, encodeModel(model), "full", held);
    } catch (error) {
      if (error instanceof SnapshotFencedOut) return leaseLost(held, version);
      throw error;
    }
    answered = Math.max(answered, request);
    ctx.logger.info({ version, model: model.name, trainedAt: model.trainedAt }, "recommender model published");
  };

  const run = async (held: number, now: number, request: number): Promise<void> => {
    try {
      const model = await train(now - trainWindow);
      if (token === held) await publish(held, model, request);
    } catch (error) {
      // Nothing to learn yet, or the log unreachable: keep the published model, try again next period (a
      // request counts as answered: retrying a failing fit at every step would only repeat the failure).
      answered = Math.max(answered, request);
      ctx.logger.warn({ err: (error as Error).message }, "recommender training skipped");
    }
  };

  return {
    name: TRAINER_DUTY,
    async start(held) {
      token = held;
      lost = undefined;
      const saved = await ctx.leases.fencedRead(TRAINER_DUTY, STATE_KEY);
      const state = saved ? (JSON.parse(new TextDecoder().decode(saved)) as TrainerState) : undefined;
      dueAt = state ? state.trainedAt + retrainEvery : 0;
      answered = state?.request ?? 0;
      requested = answered;
      requestsCheckedAt = Number.NEGATIVE_INFINITY;
    },
    async step(now) {
      if (token === undefined) return;
      if (lost === token) throw new LeaseLostError(TRAINER_DUTY, lost);
      if (now - requestsCheckedAt >= REQUEST_POLL_MS) {
        requestsCheckedAt = now;
        requested = Math.max(requested, (await ctx.snapshots.latest(RETRAIN_REQUESTS))?.version ?? 0);
      }
      if (running || (now < dueAt && requested <= answered)) return "idle";
      dueAt = now + retrainEvery;
      const held = token;
      running = run(held, now, requested).finally(() => {
        running = undefined;
      });
    },
    async stop() {
      token = undefined;
      await running;
    },
    trigger() {
      dueAt = 0;
    },
    async idle() {
      await running;
    },
  };
}
