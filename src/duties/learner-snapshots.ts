import { DefaultSerializer, deserialize, serialize } from "node:v8";
import type { PolicyProgress, PolicySnapshot } from "../bandit/base-policy.js";
import type { PolicyFeedback } from "../bandit/policy.js";
import { jsonValueOf } from "../bandit/snapshot-codec.js";
import type { SnapshotStore } from "../stream/snapshot-store.js";
import { SnapshotVersionConflict } from "../stream/snapshot-store.js";
import { encodePolicyVersionOffThread } from "./full-encoder.js";
import { body } from "./learner-checkpoint.js";

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
 * **A full continues the chain.** A full published by the holder that published the version just before it
 * also carries the updates since that version and the policy's progress after them (`continues`): a follower
 * at that version replays them as a delta and checks its progress (update count, reward sums) against the
 * full's, without decoding the snapshot, so an up-to-date API node never restores a full on its event loop
 * (~100 ms at 2,000 arms of the default policy: bench/support/follower-swap.ts). A follower that is behind,
 * new, or whose check fails restores the snapshot. A full after a refusal, a resync or a holder's start
 * carries none (its state does not follow from the version before by updates).
 *
 * Binary: header "LWP" + format. Format 2 (written since stop 25): a 4-byte little-endian length, the V8
 * serializer's bytes of the head ({ kind, publishedAt, ... } without the snapshot), then for a full the V8
 * bytes of the snapshot, so the head reads without the snapshot. Format 1 (still read): the V8 bytes of the
 * whole version. See learner-checkpoint.ts for why V8 and not JSON. `publishedAt` is the learner's clock, for
 * the age metric. (An API node of an earlier version cannot read format 2: upgrade API nodes before workers.)
 */
export type PolicyVersion =
  | { kind: "full"; publishedAt: number; policy: PolicySnapshot; continues?: Continuation }
  | { kind: "delta"; publishedAt: number; updates: PolicyFeedback[] };

/** What takes a follower at version `follows` to the full's state: its updates, then the progress to check. */
export interface Continuation {
  follows: number;
  updates: PolicyFeedback[];
  progress: PolicyProgress;
}

/** A version without its snapshot: what a follower reads before deciding to decode a full. */
export type PolicyVersionHead =
  | { kind: "full"; publishedAt: number; continues?: Continuation }
  | { kind: "delta"; publishedAt: number; updates: PolicyFeedback[] };

const MAGIC = [0x4c, 0x57, 0x50]; // "LWP"
const FORMAT_WHOLE = 1;
const FORMAT = 2;
const PREFIX = MAGIC.length + 1;

export function encodePolicyVersion(version: PolicyVersion): Uint8Array {
  const policy = version.kind === "full" ? version.policy : undefined;
  const headBytes = serialize(headOf(version));
  const serializer = new DefaultSerializer();
  const length = Buffer.alloc(4);
  length.writeUInt32LE(headBytes.byteLength);
  serializer.writeRawBytes(Uint8Array.from([...MAGIC, FORMAT]));
  serializer.writeRawBytes(length);
  serializer.writeRawBytes(headBytes);
  if (policy !== undefined) {
    serializer.writeHeader();
    serializer.writeValue(policy);
  }
  return serializer.releaseBuffer();
}

export function decodePolicyVersion(bytes: Uint8Array): PolicyVersion {
  if (formatOf(bytes) === FORMAT_WHOLE) return deserialize(body(bytes, MAGIC, FORMAT_WHOLE, WHAT)) as PolicyVersion;
  const { head, end } = readHead(bytes);
  if (head.kind === "delta") return head;
  const policy = deserialize(tail(bytes, end)) as PolicySnapshot;
  return { ...head, policy };
}

/**
 * The version without its snapshot (format 2); undefined for format 1, which holds no head apart from the
 * whole version (decode that whole: not done here, so a follower decodes an old full once).
 */
export function decodePolicyVersionHead(bytes: Uint8Array): PolicyVersionHead | undefined {
  return formatOf(bytes) === FORMAT_WHOLE ? undefined : readHead(bytes).head;
}

/**
 * How many bytes from the start hold the version's head (format 2; `prefix`: at least the first 8 bytes), so a
 * follower that fetched a prefix of a full reads the rest of the head and not the snapshot; undefined for format 1.
 */
export function policyVersionHeadEnd(prefix: Uint8Array): number | undefined {
  if (formatOf(prefix) === FORMAT_WHOLE) return undefined;
  if (prefix.byteLength < PREFIX + 4) throw new Error(`${WHAT}: ${prefix.byteLength} bytes do not hold a head length`);
  return PREFIX + 4 + new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(PREFIX, true);
}

const WHAT = "policy snapshot";

function headOf(version: PolicyVersion): PolicyVersionHead {
  if (version.kind === "delta") return version;
  const { kind, publishedAt, continues } = version;
  return continues === undefined ? { kind, publishedAt } : { kind, publishedAt, continues };
}

function formatOf(bytes: Uint8Array): number {
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw new Error(`not a ${WHAT} (bad magic)`);
  const format = bytes[MAGIC.length]!;
  if (format !== FORMAT && format !== FORMAT_WHOLE) {
    throw new Error(`${WHAT} format ${format} is not readable by this version (reads ${FORMAT_WHOLE}, ${FORMAT})`);
  }
  return format;
}

function readHead(bytes: Uint8Array): { head: PolicyVersionHead; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(PREFIX, true);
  const end = PREFIX + 4 + length;
  if (end > bytes.byteLength) throw new Error(`${WHAT}: head of ${length} bytes past the end`);
  return { head: deserialize(tail(bytes, PREFIX + 4).subarray(0, length)) as PolicyVersionHead, end };
}

function tail(bytes: Uint8Array, from: number): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset + from, bytes.byteLength - from);
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
    const bytes = await encodePolicyVersionOffThread(
      full ? this.full(await snapshot(), now, next) : { kind: "delta", publishedAt: now, updates: this.updates },
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

  /** A full at `next`; continuing this publisher's chain when it published `next - 1` (see `Continuation`). */
  private full(policy: PolicySnapshot, publishedAt: number, next: number): PolicyVersion {
    if (this.needFull || this.version === undefined || next !== this.version + 1) {
      return { kind: "full", publishedAt, policy };
    }
    const continues = { follows: this.version, updates: this.updates, progress: policy.progress };
    return { kind: "full", publishedAt, policy, continues };
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
