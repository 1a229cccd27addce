import type { Logger } from "pino";
import type { Clock } from "../core/clock.js";
import type { EventLog } from "../events/event-log.js";
import { ModelHolder, type Retrainer } from "../recommend/model-holder.js";
import { loadModel } from "../recommend/model-store.js";
import type { SessionModel } from "../recommend/session-model.js";
import { trainFromEventLog } from "../recommend/train-from-log.js";
import { trainInWorker } from "../recommend/train-in-worker.js";
import type { LoopwiseConfig } from "./config.js";

/**
 * The session recommender as the engine runs it: the model saved in the data dir is loaded at start;
 * retraining runs on the engine's clock (so a simulated clock retrains on simulated days), in a worker
 * thread for a file-backed log (the request path never pauses for a fit) and on the main thread for an
 * in-memory log (tests, fast simulations).
 */
export class EngineRecommender {
  readonly holder: ModelHolder<SessionModel>;
  private readonly retrainer: Retrainer<SessionModel>;
  private due: { at: number; run: () => void } | undefined;

  private constructor(
    holder: ModelHolder<SessionModel>,
    trainFn: () => Promise<SessionModel>,
    private readonly clock: Clock,
    every: number,
    logger: Logger,
    /** False on a scale-out node: models come from the trainer duty's publications (app/model-follower.ts). */
    private readonly retrainsLocally: boolean,
  ) {
    this.holder = holder;
    this.retrainer = holder.startRetraining({
      every,
      trainFn,
      onError: (err) => logger.warn({ err: (err as Error).message }, "recommender retraining skipped"),
      setTimer: (run, ms) => {
        this.due = { at: this.clock.now() + ms, run };
        return {};
      },
      clearTimer: () => {
        this.due = undefined;
      },
    });
  }

  static async open(
    config: LoopwiseConfig,
    dataDir: string,
    events: EventLog,
    clock: Clock,
    logger: Logger,
    { retrainsLocally = true }: { retrainsLocally?: boolean } = {},
  ): Promise<EngineRecommender> {
    const { model, retrainEvery, trainWindow } = config.recommend;
    const saved = dataDir === ":memory:" ? undefined : await loadModel(dataDir).catch(() => undefined);
    const holder = new ModelHolder<SessionModel>(saved);
    const from = () => clock.now() - trainWindow;
    const trainFn =
      dataDir === ":memory:"
        ? () => trainFromEventLog(events, { model, clock, from: from() })
        : () =>
            trainInWorker({
              loader: eventLogLoader(config, dataDir),
              dir: dataDir,
              model,
              from: from(),
            });
    const recommender = new EngineRecommender(holder, trainFn, clock, retrainEvery, logger, retrainsLocally);
    if (!retrainsLocally) return recommender;
    if (!saved && (await events.count()) > 0) recommender.train().catch(() => {}); // first model, in the background
    return recommender;
  }

  /** Trains now (or joins the running training); resolves once the new model serves. */
  train(): Promise<SessionModel> {
    return this.retrainer.trigger();
  }

  /** Starts a due retraining (called from the engine's tick). */
  tick(): void {
    if (!this.retrainsLocally) return;
    if (this.due && this.clock.now() >= this.due.at) {
      const { run } = this.due;
      this.due = undefined;
      run();
    }
  }

  close(): Promise<void> {
    return this.retrainer.stop();
  }
}

/**
 * How the training worker opens the event log: the data dir's SQLite file, or PostgreSQL when configured.
 * The trainer duty's `train` can use it too: `(from) => trainInWorker({ loader: eventLogLoader(config, dir),
 * dir, model, from })` (duties/trainer-duty.ts).
 */
export function eventLogLoader(config: LoopwiseConfig, dataDir: string) {
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
  const { postgresUrl, postgresSchema } = config.storage;
  if (postgresUrl) {
    return {
      module: new URL(`../storage/postgres/event-log-postgres.${ext}`, import.meta.url).href,
      exportName: "openPostgresEventLog",
      args: [postgresUrl, postgresSchema],
    };
  }
  return {
    module: new URL(`../storage/sqlite/event-log-sqlite.${ext}`, import.meta.url).href,
    exportName: "openSqliteEventLog",
    args: [`${dataDir}/loopwise.db`],
  };
}
