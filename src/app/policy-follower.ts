import type { Logger } from "pino";
import { Gauge } from "prom-client";
import type { BasePolicy, PolicyProgress } from "../bandit/base-policy.js";
import type { PolicyRegistry } from "../bandit/policy-registry.js";
import type { Clock } from "../core/clock.js";
import {
  type Continuation,
  decodePolicyVersion,
  decodePolicyVersionHead,
  policySnapshotName,
  policyVersionHeadEnd,
} from "../duties/learner-snapshots.js";
import { restoreInTurns } from "../duties/sliced-policy-snapshot.js";
import { type FullReader, SnapshotFollower } from "../stream/snapshot-follower.js";
import type { SnapshotStore } from "../stream/snapshot-store.js";
import type { EngineMetrics } from "./metrics.js";
import { sharedPolicyVersionDecoder } from "./policy-version-decoder.js";

/**
 * An API node's side of policy publication (issue 13): for each policy, a `SnapshotFollower` keeps a mirror
 * of the learner's policy at the newest `policy:<id>` version (a full restores it, a delta replays the
 * learner's updates on it: duties/learner-snapshots.ts), and the registry serves that mirror itself, labelled
 * with the snapshot version. So:
 *
 * - **No copy per version:** the mirror is served in place. Serving a fresh copy of it per version
 *   (`restorePolicy(mirror.snapshot())`) held the node's event loop 35-64 ms at 500 arms of the default policy
 *   and 64-100 ms at 2,000 (240-611 ms of wall time at load 11), about once a second, with every rank waiting
 *   behind it (bench/support/follower-swap.ts). What a policy serves is already its own frozen serving state
 *   (e.g. Thompson's serving posterior and epoch, moved on at its refresh points as the learner's did), so the
 *   mirror serves exactly what a restored copy of it would (tested: same choices and propensities).
 * - **No restore per full when up to date:** a full the learner publishes on its own chain carries the updates
 *   since the version before (duties/learner-snapshots.ts `Continuation`); a node at that version replays them
 *   on the served mirror and checks its progress against the full's, without decoding the snapshot (~2-3 ms
 *   instead of 100-250 ms of decode and restore at 2,000 arms: bench/support/follower-swap.ts).
 * - **A restore does not hold the event loop:** a node that is new, behind, or whose check fails restores the
 *   full beside the mirror it serves: decoded on a thread (policy-version-decoder.ts; its arrays transferred
 *   back), then rebuilt `ARMS_PER_TURN` arms per event-loop turn (`restorePolicyInSlices`), the old version
 *   served meanwhile and the new one swapped in at once when whole. At 2,000 arms of the default policy this
 *   was one block of ~130-300 ms (decode 25-90 ms + restore 75-260 ms); the longest turn is now the policy's
 *   creation (~10-15 ms: its 2^18 shared slots) or the decoded snapshot's arrival (~12 ms)
 *   (bench/support/follower-join.ts). A decode or restore that fails leaves the served version as it was.
 * - **Atomic:** a version's updates and its label (`servedAs`) are applied in one synchronous run, and rank
 *   reads the policy synchronously from its lookup to the decision record it logs (app/rank.ts): a request
 *   never sees half of a version, nor new parameters under the old label. (Code that holds the policy across an
 *   await sees later versions: it takes `snapshot()`, as evaluation does.)
 * - **Logged version = served version:** rank logs `policy.version` (app/rank.ts), which for a followed policy
 *   is the snapshot version it was served with, so propensities replay against the published version.
 *   (Empty deltas are the learner's heartbeats: they advance the followed version and the age, not the served
 *   label, which stays the last version that changed parameters.)
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
  /** Fulls at least this long are decoded on a thread (default 1 MiB; 0: always, as tests do). */
  offThreadBytes?: number;
}

/** Below ~1 MiB a full decodes in a few ms here, less than a thread's round trip (and its start). */
const OFF_THREAD_BYTES = 2 ** 20;
/**
 * A full is fetched as its first 64 KiB (its head, unless it carries many updates): an up-to-date node needs only
 * the head. The rest comes in parts of 1 MiB, each its own turn, when the node restores it.
 */
const FULL_PREFIX = 64 * 1024;
const PART_BYTES = 2 ** 20;

interface Followed {
  follower: SnapshotFollower;
  stop?: () => void;
  mirror: BasePolicy | undefined;
  publishedAt: number | undefined;
  /** The mirror holds exactly the followed version (false before the first full and after a failed replay). */
  consistent: boolean;
}

export class PolicyFollowers {
  private readonly followed = new Map<string, Followed>();
  private readonly decoder = sharedPolicyVersionDecoder();

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
    const follower = new SnapshotFollower(
      this.o.snapshots,
      policySnapshotName(policyId),
      {
        full: (bytes, version, previous, rest) => this.applyFull(policyId, entry, bytes, version, previous, rest),
        delta: (bytes, version) => this.applyDelta(policyId, entry, bytes, version),
      },
      { fullPrefix: FULL_PREFIX },
    );
    const entry: Followed = { follower, mirror: undefined, publishedAt: undefined, consistent: false };
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
    const stop = await this.o.snapshots.subscribe(policySnapshotName(policyId), () => void catchUp());
    // Closed while subscribing: close() found no stop to call, so the subscription ends here.
    if (this.followed.get(policyId) !== entry) return stop();
    entry.stop = stop;
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

  /**
   * A full that continues the version this node is at (learner-snapshots.ts `Continuation`) is replayed on the
   * served mirror like a delta, its snapshot left undecoded; any other full (or one whose check fails) is
   * decoded and restored, as a follower that is new or behind must: off the event loop's long turns (see the
   * class doc), the old mirror served until the new one is whole.
   */
  private async applyFull(
    policyId: string,
    f: Followed,
    prefix: Uint8Array,
    version: number,
    previous: number | undefined,
    rest: FullReader | undefined,
  ): Promise<void> {
    if (this.followed.get(policyId) !== f) return; // closed meanwhile: a catch-up in flight changes nothing
    const bytes = rest ? await withHead(prefix, rest) : prefix;
    if (this.followed.get(policyId) !== f) return;
    const head = decodePolicyVersionHead(bytes);
    if (head?.kind === "full" && this.continued(f, head.continues, version, previous)) {
      f.publishedAt = head.publishedAt;
      this.serve(f.mirror!, version);
      return;
    }
    const parts = rest ? [bytes, ...(await restOf(bytes.byteLength, rest))] : [bytes];
    const v = await this.decoder.decode(parts, this.o.offThreadBytes ?? OFF_THREAD_BYTES);
    if (v.kind !== "full") throw new Error(`policy:${policyId} version ${version} is not a full snapshot`);
    const mirror = await restoreInTurns(v.policy, () => this.followed.get(policyId) !== f);
    if (mirror === undefined || this.followed.get(policyId) !== f) return;
    f.mirror = mirror;
    f.publishedAt = v.publishedAt;
    f.consistent = true;
    this.serve(mirror, version);
  }

  /**
   * Replays a full's carried updates on the mirror when it is exactly at the version they follow, and says
   * whether the mirror then holds the full's state: the same update count and reward sums (progress) as the
   * full's snapshot. Updates are deterministic (as for deltas), so the chain is what makes the state equal;
   * the progress check catches a replay that diverged in what it counted. False leaves a mirror to replace.
   */
  private continued(
    f: Followed,
    continues: Continuation | undefined,
    version: number,
    previous: number | undefined,
  ): boolean {
    const mirror = f.mirror;
    if (!continues || !mirror || !f.consistent) return false;
    if (previous === undefined || continues.follows !== previous || version !== previous + 1) return false;
    // Until the replay is through and checked: if the restore that replaces a failed one throws, the node says
    // policy_stale at once (as after a failed delta) instead of serving part of a version as fresh.
    f.consistent = false;
    f.publishedAt = undefined;
    try {
      for (const update of continues.updates) mirror.update(update);
    } catch (error) {
      this.o.logger.warn({ err: error, policy: mirror.id, version }, "policy full: replay failed; restoring it");
      return false;
    }
    if (
      progressDigest(mirror.describe().progress as DescribedProgress) !== progressDigest(described(continues.progress))
    ) {
      this.o.logger.warn({ policy: mirror.id, version }, "policy full: replayed state differs; restoring it");
      return false;
    }
    f.consistent = true;
    return true;
  }

  /** Replays a delta's updates on the served mirror and labels it, in one synchronous run (see the class doc). */
  private applyDelta(policyId: string, f: Followed, bytes: Uint8Array, version: number): void {
    if (this.followed.get(policyId) !== f) return; // closed meanwhile: the served mirror is no longer changed
    const v = decodePolicyVersion(bytes);
    const mirror = f.mirror;
    if (v.kind !== "delta" || !mirror) throw new Error(`policy:${policyId} version ${version}: no full to apply to`);
    try {
      for (const update of v.updates) mirror.update(update);
    } catch (error) {
      f.consistent = false;
      // A delta holds only updates the learner applied without error (duties/learner-duty.ts records after
      // update), so replaying them fails only if this node's code differs from the learner's. The served mirror
      // then holds part of a version: from now on rank says policy_stale (no age), and the follower retries this
      // version on every poll without getting past it, as it did when it served copies.
      f.publishedAt = undefined;
      throw error;
    }
    f.publishedAt = v.publishedAt;
    if (v.updates.length > 0) this.serve(mirror, version);
  }

  private serve(mirror: BasePolicy, version: number): void {
    mirror.servedAs(version);
    // Also records its update count as saved: the learner that published it owns the stored state.
    this.o.registry.serve(mirror);
  }
}

/** The bytes of a full fetched as `prefix` up to at least the end of its head (format 2; format 1 has none). */
async function withHead(prefix: Uint8Array, rest: FullReader): Promise<Uint8Array> {
  const end = policyVersionHeadEnd(prefix);
  if (end === undefined || end <= prefix.byteLength) return prefix;
  if (end > rest.size) throw new Error(`policy version: head of ${end} bytes past its ${rest.size} bytes`);
  return Buffer.concat([prefix, await rest.read(prefix.byteLength, end)]);
}

/** The full's bytes from `from` to its end, `PART_BYTES` a read. */
async function restOf(from: number, rest: FullReader): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for (let at = from; at < rest.size; at += PART_BYTES)
    parts.push(await rest.read(at, Math.min(rest.size, at + PART_BYTES)));
  return parts;
}

/** Progress as `BasePolicy.describe()` reports it (the mirror's progress is not otherwise public). */
interface DescribedProgress {
  updates: number;
  rewardMean: number | null;
  perPosition: Record<string, { updates: number; rewardMean: number }>;
}

/** A snapshot's progress as `describe()` derives it, so the two compare as computed the same way. */
function described(p: PolicyProgress): DescribedProgress {
  return {
    updates: p.updates,
    rewardMean: p.updates > 0 ? p.rewardSum / p.updates : null,
    perPosition: Object.fromEntries(
      Object.entries(p.perPosition).map(([k, v]) => [k, { updates: v.updates, rewardMean: v.rewardSum / v.updates }]),
    ),
  };
}

/** Exact (every double by its bits, -0 and NaN included), independent of key order. */
function progressDigest(p: DescribedProgress): string {
  const bits = (x: number | null): string => (x === null ? "null" : bitsOf(x));
  const positions = Object.keys(p.perPosition).sort();
  const parts = positions.map((k) => `${k}:${p.perPosition[k]!.updates}:${bits(p.perPosition[k]!.rewardMean)}`);
  return `${p.updates}:${bits(p.rewardMean)}|${parts.join(",")}`;
}

function bitsOf(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return view.getBigUint64(0).toString(16);
}
