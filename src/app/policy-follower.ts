import type { Logger } from "pino";
import { Gauge } from "prom-client";
import type { BasePolicy } from "../bandit/base-policy.js";
import type { PolicyRegistry } from "../bandit/policy-registry.js";
import { restorePolicy } from "../bandit/policy-types.js";
import type { Clock } from "../core/clock.js";
import { decodePolicyVersion, policySnapshotName } from "../duties/learner-snapshots.js";
import { SnapshotFollower } from "../stream/snapshot-follower.js";
import type { SnapshotStore } from "../stream/snapshot-store.js";
import type { EngineMetrics } from "./metrics.js";

/**
 * An API node's side of policy publication (issue 13): for each policy, a `SnapshotFollower` keeps a mirror
 * of the learner's policy at the newest `policy:<id>` version (a full restores it, a delta replays the
 * learner's updates on it: duties/learner-snapshots.ts), and after each catch-up the registry serves a fresh
 * copy of the mirror whose `version` is the snapshot version. So:
 *
 * - **Atomic:** the served object is never mutated; rank looks it up once per request and keeps that object
 *   (`PolicyRegistry.serve` is one map write). A request never sees half of a version.
 * - **Logged version = served version:** rank logs `policy.version` (app/rank.ts), which for a followed policy
 *   is the snapshot version it was served with, so propensities replay against the published version.
 *   (Empty deltas are the learner's heartbeats: they advance the followed version and the age, not the served
 *   object, whose version stays the last one that changed parameters.)
 * - **Staleness:** `loopwise_policy_snapshot_age_seconds{policy}` is the time since the newest applied version
 *   was published (the learner's clock at publish against this node's: skew between them adds to it); past
 *   `maxStalenessMs` rank keeps serving and adds `policy_stale:<id>` to the decision's `fallbacks`. The learner
 *   publishes at least every `checkpointMs` (a heartbeat when nothing changed) and Redis followers poll every
 *   `pollMs`, so on a healthy loop the age stays under about their sum.
 */
export interface PolicyFollowerOptions {
  snapshots: SnapshotStore;
  registry: PolicyRegistry;
  clock: Clock;
  metrics: EngineMetrics;
  logger: Logger;
  /** Age of the newest version past which decisions say `policy_stale` (config `workers.maxStaleness`). */
  maxStalenessMs: number;
}

interface Followed {
  follower: SnapshotFollower;
  stop?: () => void;
  mirror: BasePolicy | undefined;
  publishedAt: number | undefined;
  /** Parameters changed since the last swap. */
  changed: boolean;
}

export class PolicyFollowers {
  private readonly followed = new Map<string, Followed>();

  constructor(private readonly o: PolicyFollowerOptions) {
    o.registry.setStalenessCheck((id) => this.isStale(id));
    const followers = this;
    new Gauge({
      name: "loopwise_policy_snapshot_version",
      help: "The policy snapshot version this node follows (issue 13: scale-out)",
      labelNames: ["policy"] as const,
      registers: [o.metrics.registry],
      collect(): void {
        for (const [id, f] of followers.followed)
          if (f.follower.version !== undefined) this.set({ policy: id }, f.follower.version);
      },
    });
    new Gauge({
      name: "loopwise_policy_snapshot_age_seconds",
      help: "Seconds since the policy snapshot version this node follows was published",
      labelNames: ["policy"] as const,
      registers: [o.metrics.registry],
      collect(): void {
        for (const id of followers.followed.keys()) {
          const age = followers.ageMs(id);
          if (age !== undefined) this.set({ policy: id }, age / 1000);
        }
      },
    });
  }

  /** Starts following `policyId` (idempotent); resolves after the first catch-up (or its failure, logged). */
  async follow(policyId: string): Promise<void> {
    if (this.followed.has(policyId)) return;
    const follower = new SnapshotFollower(this.o.snapshots, policySnapshotName(policyId), {
      full: (bytes, version) => this.applyFull(policyId, entry, bytes, version),
      delta: (bytes, version) => this.applyDelta(policyId, entry, bytes, version),
    });
    const entry: Followed = { follower, mirror: undefined, publishedAt: undefined, changed: false };
    this.followed.set(policyId, entry);
    // Not SnapshotFollower.start: a failed first catch-up (the store unreachable) must not fail the node's
    // start-up. The policy then counts as stale, and the subscription's polling retries.
    const catchUp = (): Promise<void> =>
      follower.catchUp().catch((error: unknown) => {
        this.o.logger.warn(
          { err: error, policy: policyId },
          "policy snapshots: catch-up failed; retrying on the next poll",
        );
      });
    entry.stop = await this.o.snapshots.subscribe(policySnapshotName(policyId), () => void catchUp());
    await catchUp();
  }

  /** Brings every followed policy to its newest version (tests; the subscription does it on its own). */
  async catchUp(): Promise<void> {
    await Promise.all([...this.followed.values()].map((f) => f.follower.catchUp()));
  }

  /** The version this node follows for `policyId` (undefined before the first full). */
  version(policyId: string): number | undefined {
    return this.followed.get(policyId)?.follower.version;
  }

  ageMs(policyId: string): number | undefined {
    const at = this.followed.get(policyId)?.publishedAt;
    return at === undefined ? undefined : Math.max(0, this.o.clock.now() - at);
  }

  /** A followed policy without any version yet, or whose newest version is older than allowed. */
  isStale(policyId: string): boolean {
    if (!this.followed.has(policyId)) return false;
    const age = this.ageMs(policyId);
    return age === undefined || age > this.o.maxStalenessMs;
  }

  close(): void {
    for (const f of this.followed.values()) f.stop?.();
    this.followed.clear();
  }

  private applyFull(policyId: string, f: Followed, bytes: Uint8Array, version: number): void {
    const v = decodePolicyVersion(bytes);
    if (v.kind !== "full") throw new Error(`policy:${policyId} version ${version} is not a full snapshot`);
    f.mirror = restorePolicy(v.policy);
    f.publishedAt = v.publishedAt;
    this.scheduleSwap(policyId, f);
  }

  private applyDelta(policyId: string, f: Followed, bytes: Uint8Array, version: number): void {
    const v = decodePolicyVersion(bytes);
    if (v.kind !== "delta" || !f.mirror) throw new Error(`policy:${policyId} version ${version}: no full to apply to`);
    for (const update of v.updates) f.mirror.update(update);
    f.publishedAt = v.publishedAt;
    if (v.updates.length > 0) this.scheduleSwap(policyId, f);
  }

  /**
   * Swaps after the catch-up's synchronous run of versions (a microtask later), so a batch of deltas costs one
   * copy of the mirror, not one per version.
   */
  private scheduleSwap(policyId: string, f: Followed): void {
    if (f.changed) return;
    f.changed = true;
    queueMicrotask(() => {
      f.changed = false;
      if (!f.mirror || this.followed.get(policyId) !== f) return;
      const version = f.follower.version ?? 0;
      try {
        this.o.registry.serve(restorePolicy({ ...f.mirror.snapshot(), version }));
      } catch (error) {
        this.o.logger.error({ err: error, policy: policyId, version }, "policy snapshot could not be served");
      }
    });
  }
}
