import type { Logger } from "pino";
import { Gauge } from "prom-client";
import type { ModelHolder } from "../recommend/model-holder.js";
import { decodeModel } from "../recommend/model-store.js";
import type { SessionModel } from "../recommend/session-model.js";
import { SnapshotFollower } from "../stream/snapshot-follower.js";
import type { SnapshotStore } from "../stream/snapshot-store.js";
import type { EngineMetrics } from "./metrics.js";

/** The snapshot name the trainer duty (duties/trainer-duty.ts) publishes models under (the lead's naming). */
export const MODEL_SNAPSHOT = "model:recommender";

/**
 * An API node's side of the trainer (issue 13): follows the `model:recommender` snapshots and swaps each new
 * model into the node's `ModelHolder` whole. A request reads the holder once, so it sees one model from start
 * to end (recommend/model-holder.ts); the swap is one reference assignment. The version served is in
 * `/metrics` as `loopwise_recommender_model_version` (0 before the first model), so an operator sees every
 * node converge on the trainer's latest.
 *
 * Decoding runs on the node's event loop: a few array copies per model (tens of ms for a large vstan model),
 * once per retrain (hourly by default).
 */
export class ModelFollower {
  private readonly follower: SnapshotFollower;
  private stopSubscription: (() => void) | undefined;

  constructor(
    snapshots: SnapshotStore,
    private readonly holder: ModelHolder<SessionModel>,
    metrics: EngineMetrics,
    private readonly logger: Logger,
  ) {
    this.follower = new SnapshotFollower(snapshots, MODEL_SNAPSHOT, {
      full: (bytes, version) => this.swapIn(bytes, version),
      delta: (_bytes, version) => {
        throw new Error(`model:recommender version ${version} is a delta; the trainer publishes full models only`);
      },
    });
    const follower = this.follower;
    new Gauge({
      name: "loopwise_recommender_model_version",
      help: "The model:recommender snapshot version this node serves (0: none yet)",
      registers: [metrics.registry],
      collect() {
        this.set(follower.version ?? 0);
      },
    });
  }

  /** The snapshot version serving now (undefined before the first). */
  get version(): number | undefined {
    return this.follower.version;
  }

  /** Subscribes and catches up to the latest model now; later versions are swapped in as they are published. */
  async start(): Promise<void> {
    this.stopSubscription = await this.follower.start();
  }

  /** Fetches and applies what was published since (also what a notification does). */
  catchUp(): Promise<void> {
    return this.follower.catchUp();
  }

  stop(): void {
    this.stopSubscription?.();
    this.stopSubscription = undefined;
  }

  private swapIn(bytes: Uint8Array, version: number): void {
    const model = decodeModel(bytes, `model:recommender version ${version}`);
    this.holder.swap(model);
    this.logger.info({ version, model: model.name, trainedAt: model.trainedAt }, "recommender model swapped in");
  }
}
