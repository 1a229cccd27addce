import type { Clock } from "../core/clock.js";
import { type RolloutRoute, routeAmong } from "../rollout/assign-arm.js";
import type { RolloutStore } from "../rollout/rollout-store.js";
import type { Rollout } from "../rollout/rollout-types.js";
import type { RolloutRouter } from "./ports.js";

export interface RolloutFollowerOptions {
  /** How often the cached rollouts are reloaded from the store (`rollouts.refreshEvery`, default 1 s). */
  refreshEveryMs?: number;
  /**
   * Whether completed rollouts keep routing to their candidate: only when nothing promotes the candidate to
   * the default policy (the embedded controller's rule without an onPromote hook).
   */
  routeCompleted?: boolean;
}

/**
 * An API node's view of the rollouts in scale-out (issue 13): it routes users locally (rollout/assign-arm.ts,
 * the embedded controller's own rule) from a copy of the rollout store reloaded every `refreshEveryMs`, and
 * never counts or moves stages: serving appends each routed decision's exposure to the decision stream, and
 * the rollout duty's lease holder counts and decides. A stage change reaches the node within one refresh;
 * assignment is a pure hash of user and rollout, so every node routes a user alike at the same stage.
 */
export class RolloutFollower implements RolloutRouter {
  private serving: Rollout[] = [];
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;
  private readonly refreshEveryMs: number;

  private constructor(
    private readonly store: Pick<RolloutStore, "list">,
    private readonly clock: Clock,
    private readonly options: RolloutFollowerOptions,
  ) {
    this.refreshEveryMs = options.refreshEveryMs ?? 1000;
  }

  /** A follower with its first copy loaded, so the node routes from its first request. */
  static async open(
    store: Pick<RolloutStore, "list">,
    clock: Clock,
    options: RolloutFollowerOptions = {},
  ): Promise<RolloutFollower> {
    const f = new RolloutFollower(store, clock, options);
    await f.refresh();
    return f;
  }

  /** Reloads the copy now. A failed load keeps the previous copy (routing goes on) and is retried. */
  refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<void> {
    const startedAt = this.clock.now();
    const all = await this.store.list();
    this.serving = all.filter(
      (r) =>
        r.status === "running" || r.status === "paused" || (this.options.routeCompleted && r.status === "completed"),
    );
    this.loadedAt = startedAt;
  }

  route(userId: string, now: number = this.clock.now()): RolloutRoute | undefined {
    this.refreshIfDue(now);
    return routeAmong(this.serving, userId);
  }

  /** As `route`, among the rollouts whose incumbent is `policyId`. */
  routeFor(policyId: string, userId: string, now: number = this.clock.now()): RolloutRoute | undefined {
    this.refreshIfDue(now);
    return routeAmong(this.serving, userId, (r) => r.incumbent === policyId);
  }

  /** The lease holder counts decisions from the stream's exposures: nothing to do on the node. */
  onDecision(): void {}

  /** The lease holder counts events from the stream: nothing to do on the node. */
  onEvent(): void {}

  /** When the copy was last loaded (for staleness in /metrics). */
  get lastLoadedAt(): number {
    return this.loadedAt;
  }

  private refreshIfDue(now: number): void {
    // In the background: a request never waits for the store; it routes from the copy it has.
    if (now - this.loadedAt >= this.refreshEveryMs) this.refresh().catch(() => {});
  }
}
