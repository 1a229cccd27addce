import { deserialize } from "node:v8";
import type { PolicySnapshot } from "../bandit/base-policy.js";
import type { PolicyFeedback } from "../bandit/policy.js";
import { jsonValueOf } from "../bandit/snapshot-codec.js";
import type { SnapshotStore } from "../stream/snapshot-store.js";
import { SnapshotVersionConflict } from "../stream/snapshot-store.js";
import { body, serializeWithHeader } from "./learner-checkpoint.js";

/**
 * Policy snapshots the learner publishes as `policy:<policyId>` and API nodes follow (app/policy-follower.ts).
 *
 * A **full** version is the policy's snapshot. A **delta** is the batch of updates (`PolicyFeedback`) the
 * learner applied since the version before, in order: a follower replays them with the same deterministic
 * `update` and reaches identical parameters (bit for bit; tested). Chosen over a parameter diff because its
 * size follows the traffic, not the model: the default policy's shared model is 2^18 slots, and a diff must
 * either ship every touched slot of a dense array or know each policy type's layout, while a reward's update
 * is a few shown candidates' features (the V8 serializer writes an input shared by a decision's slots once).
 * The price is that each API node spends the learner's update CPU on replay (bench/learner-duty.bench.ts
 * measures updates/s), bounded by publishing a full every `fullEvery` versions, which a node far behind loads
 * instead of replaying.
 *
 * An empty delta is a heartbeat: the learner is alive and nothing changed, so followers' staleness (age of
 * the newest version) stays bounded on a quiet stream.
 *
 * Binary: header "LWP" + format, then the V8 serializer's bytes of { kind, publishedAt, ... } (see
 * learner-checkpoint.ts for why V8 and not JSON). `publishedAt` is the learner's clock, for the age metric.
 */
export type PolicyVersion =
  | { kind: "full"; publishedAt: number; policy: PolicySnapshot }
  | { kind: "delta"; publishedAt: number; updates: PolicyFeedback[] };

const MAGIC = [0x4c, 0x57, 0x50]; // "LWP"
const FORMAT = 1;

export function encodePolicyVersion(version: PolicyVersion): Uint8Array {
  return serializeWithHeader(MAGIC, FORMAT, version);
}

export function decodePolicyVersion(bytes: Uint8Array): PolicyVersion {
  return deserialize(body(bytes, MAGIC, FORMAT, "policy snapshot")) as PolicyVersion;
}

export function policySnapshotName(policyId: string): string {
  return `policy:${policyId}`;
}

/** Keeps what the learner applied since its last version and publishes fulls and deltas in turn. */
export class PolicyPublisher {
  private updates: PolicyFeedback[] = [];
  private version: number | undefined;
  private sinceFull = 0;
  /** A publish was refused (another holder published): the next publish is a full at the store's latest + 1. */
  private needFull = true;

  constructor(
    private readonly snapshots: SnapshotStore,
    readonly name: string,
    private readonly fullEvery: number,
    /** The lease's fencing token: the store refuses this publisher once a newer holder published (throws). */
    private readonly fence?: number,
  ) {}

  /** An update the learner applied (in order). */
  record(feedback: PolicyFeedback): void {
    this.updates.push(feedback);
  }

  get pendingUpdates(): number {
    return this.updates.length;
  }

  /** The next publish is a full (the policy was replaced): followers load it instead of replaying. */
  resync(): void {
    this.needFull = true;
    this.updates = [];
  }

  /** The last version this publisher published. */
  get published(): number | undefined {
    return this.version;
  }

  /**
   * Publishes the policy as it is now: a full when due (first publish, every `fullEvery` versions, after a
   * refusal), else the updates since the last version as a delta; with `heartbeat` also an empty delta.
   * Call only after a checkpoint holding this state was accepted: followers never see a state a failover
   * would roll back.
   */
  async publish(
    snapshot: () => PolicySnapshot | Promise<PolicySnapshot>,
    now: number,
    heartbeat = false,
  ): Promise<number | undefined> {
    if (!this.needFull && this.updates.length === 0 && !heartbeat) return undefined;
    const full = this.needFull || this.sinceFull + 1 >= this.fullEvery;
    const next = full ? ((await this.snapshots.latest(this.name))?.version ?? 0) + 1 : this.version! + 1;
    const bytes = encodePolicyVersion(
      full
        ? { kind: "full", publishedAt: now, policy: await snapshot() }
        : { kind: "delta", publishedAt: now, updates: this.updates },
    );
    try {
      await this.snapshots.publish(this.name, next, bytes, full ? "full" : "delta", this.fence);
    } catch (error) {
      if (!(error instanceof SnapshotVersionConflict)) throw error;
      this.needFull = true; // resynchronised after this holder's next accepted checkpoint, never before
      this.updates = [];
      return undefined;
    }
    this.version = next;
    this.sinceFull = full ? 0 : this.sinceFull + 1;
    this.needFull = false;
    this.updates = [];
    return next;
  }
}

/**
 * The policy's exact content as a string: the snapshot as JSON with every number written as its IEEE-754
 * bits (so -0, NaN and the last bit of every double count). Two policies with equal fingerprints hold the same
 * parameters bit for bit. The V8 serializer's bytes cannot be compared for this: they record whether V8
 * held an integer-valued number as a small integer or a double, which differs between equal states.
 */
export function policyFingerprint(snapshot: PolicySnapshot): string {
  const bits = new DataView(new ArrayBuffer(8));
  return JSON.stringify(snapshot, (_key, raw: unknown) => {
    const value = jsonValueOf(raw); // an array field after V8 deserialization: as its JSON (base64) form
    if (typeof value !== "number") return value;
    bits.setFloat64(0, value);
    return `f64:${bits.getBigUint64(0).toString(16)}`;
  });
}
