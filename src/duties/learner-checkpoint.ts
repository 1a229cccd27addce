import { setImmediate as nextTurn } from "node:timers/promises";
import { DefaultSerializer, deserialize, serialize } from "node:v8";
import type { BasePolicy, PolicySnapshot } from "../bandit/base-policy.js";
import type { PolicyFeedback } from "../bandit/policy.js";
import { restorePolicy } from "../bandit/policy-types.js";
import type { LeaseStore } from "../stream/lease-store.js";
import type { Positions } from "../stream/stream-positions.js";
import { encodeCheckpointOffThread } from "./full-encoder.js";
import { type JoinColumnsContent, readJoinColumns, readJoinColumnsInSlices } from "./join-columns.js";
import {
  applyJoinDelta,
  type JoinDelta,
  type JoinState,
  type JoinStateColumns,
  type StreamJoin,
} from "./learner-join.js";

/**
 * What a learner duty writes under its lease (`leases.fencedWrite(name, token, "checkpoint", bytes)`): the
 * policy, the join's open windows and dedupe state, and the stream positions they include, in one value, so a
 * restore gets all three as of the same entry (the Decision Service pattern: a model is checkpointed with its
 * reading position). Entries are acked only after this write is accepted.
 *
 * Binary: a 4-byte header (magic "LWC", format) and the V8 serializer's bytes (node:v8, the structured clone
 * wire format Node documents as backward compatible for storage). Chosen over JSON because the state holds
 * what JSON loses (±Infinity watermarks before the first entry, typed arrays, exact doubles) and over a
 * hand-written codec because the shape is nested, policy-specific and changes with the policy types.
 * Format 2 (written since issue 13's checkpoint work; format 1 is still read) is the same, except that the
 * join's windows, deferred decisions and seen ids are columns (join-columns.ts): the V8 serializer spent
 * ~0.6 s of CPU in one call on 53k windows' small objects, blocking the worker's lease renewals. The
 * columns are built a thousand windows at a time with a turn of the event loop between
 * (`StreamJoin.encodeState`); the policy snapshot stays V8 (policy-specific, and one call of a few ms).
 *
 * **Incremental.** Rewriting every open window each second costs what the windows weigh (~1 KB each: 50k
 * open windows are tens of MB a checkpoint). So a full checkpoint (key `checkpoint`, generation g) is
 * followed by deltas (keys `checkpoint:1`, `checkpoint:2`, …, each tagged with g and its sequence number),
 * each one fenced write of what changed since the one before: the policy updates applied since (replayed on
 * restore with the policy's own deterministic `update`, as API nodes replay published deltas, bit for bit),
 * the join's changed windows and id changes (`JoinDelta`), the positions. A full is written again every
 * `fullEvery` checkpoints (the deltas a restore reads stay bounded) and at a term's first checkpoint; the
 * deltas of an older generation left under the same keys are ignored on restore (tag mismatch). Each write is
 * one fenced write, so a checkpoint is accepted whole or not at all, and positions move only after it.
 */
export interface LearnerCheckpoint {
  policy: PolicySnapshot;
  join: JoinState;
  positions: Positions;
  /** Entries applied by all holders so far (for status and tests). */
  applied: number;
  /** Counts full checkpoints; deltas name the one they follow (absent in checkpoints before deltas). */
  generation?: number;
}

/** What changed since the checkpoint before (a full, or the delta `seq - 1` of the same generation). */
export interface LearnerCheckpointDelta {
  generation: number;
  seq: number;
  /** The policy updates applied since, in order. */
  updates: PolicyFeedback[];
  join: JoinDelta;
  positions: Positions;
  applied: number;
}

/** The key of a full checkpoint in the lease's fenced space, and of delta `seq` after it. */
export const CHECKPOINT_KEY = "checkpoint";
export const deltaKey = (seq: number): string => `${CHECKPOINT_KEY}:${seq}`;

const MAGIC = [0x4c, 0x57, 0x43]; // "LWC"
/** Format 1: the whole checkpoint V8-serialized; 2: the join as columns (read both, write 2). */
const FORMAT_V8 = 1;
const FORMAT = 2;
const DELTA_MAGIC = [0x4c, 0x57, 0x44]; // "LWD"
const DELTA_FORMAT = 1;

/** A full checkpoint with the join as columns (format 2; `StreamJoin.encodeState` builds them). */
export interface ColumnarCheckpoint extends Omit<LearnerCheckpoint, "join"> {
  join: JoinStateColumns;
}

export function encodeCheckpoint(checkpoint: ColumnarCheckpoint): Uint8Array {
  return serializeWithHeader(MAGIC, FORMAT, checkpoint);
}

/**
 * Format 1, as written before the join's columns: for tests and the bench, which compare it with format 2
 * (a worker still reads it: checkpoints written by an older version restore after an upgrade).
 */
export function encodeCheckpointV8(checkpoint: LearnerCheckpoint): Uint8Array {
  return withHeader(MAGIC, FORMAT_V8, serialize(checkpoint));
}

export function decodeCheckpoint(bytes: Uint8Array): LearnerCheckpoint {
  const opened = openCheckpoint(bytes);
  return "whole" in opened ? opened.whole : withJoin(opened.columnar, readJoinColumns(opened.columnar.join.columns));
}

/** The same, the join's windows read in slices with a turn of the event loop between (a standby's start). */
export async function decodeCheckpointInSlices(bytes: Uint8Array): Promise<LearnerCheckpoint> {
  const opened = openCheckpoint(bytes);
  if ("whole" in opened) return opened.whole;
  const { columnar } = opened;
  return withJoin(columnar, await readJoinColumnsInSlices(columnar.join.columns, () => nextTurn()));
}

/** Format 1 decoded whole, or format 2 with the join still as columns. */
function openCheckpoint(bytes: Uint8Array): { whole: LearnerCheckpoint } | { columnar: ColumnarCheckpoint } {
  const what = "learner checkpoint";
  if (bytes[MAGIC.length] === FORMAT_V8) return { whole: deserialize(body(bytes, MAGIC, FORMAT_V8, what)) };
  return { columnar: deserialize(body(bytes, MAGIC, FORMAT, what)) };
}

function withJoin({ join, ...rest }: ColumnarCheckpoint, content: JoinColumnsContent): LearnerCheckpoint {
  return { ...rest, join: { ...content, watermark: join.watermark, closedThrough: join.closedThrough } };
}

export function encodeCheckpointDelta(delta: LearnerCheckpointDelta): Uint8Array {
  return withHeader(DELTA_MAGIC, DELTA_FORMAT, serialize(delta));
}

export function decodeCheckpointDelta(bytes: Uint8Array): LearnerCheckpointDelta {
  return deserialize(body(bytes, DELTA_MAGIC, DELTA_FORMAT, "learner checkpoint delta")) as LearnerCheckpointDelta;
}

/** A restored checkpoint: the last full with every delta after it folded in, and the updates to replay. */
export interface RestoredCheckpoint {
  /** The full's policy, its join with the deltas applied, the last delta's positions and count. */
  checkpoint: LearnerCheckpoint;
  /** The deltas' policy updates, in order, to replay on the full's policy. */
  updates: PolicyFeedback[];
  /** How many deltas followed the full. */
  deltas: number;
  bytes: number;
}

/** Reads the last full checkpoint of `name` and its deltas (one read each, until the chain ends). */
export async function readCheckpoint(
  leases: LeaseStore,
  name: string,
  windowMs: number,
): Promise<RestoredCheckpoint | undefined> {
  const saved = await leases.fencedRead(name, CHECKPOINT_KEY);
  if (!saved) return undefined;
  const full = await decodeCheckpointInSlices(saved);
  const restored: RestoredCheckpoint = { checkpoint: full, updates: [], deltas: 0, bytes: saved.byteLength };
  if (full.generation === undefined) return restored;
  for (let seq = 1; ; seq++) {
    const bytes = await leases.fencedRead(name, deltaKey(seq));
    const delta = bytes && decodeCheckpointDelta(bytes);
    if (!delta || delta.generation !== full.generation || delta.seq !== seq) return restored;
    const { checkpoint } = restored;
    restored.checkpoint = {
      ...checkpoint,
      join: applyJoinDelta(checkpoint.join, delta.join, windowMs),
      positions: delta.positions,
      applied: delta.applied,
    };
    for (const update of delta.updates) restored.updates.push(update);
    restored.deltas = seq;
    restored.bytes += bytes.byteLength;
  }
}

/** The policy as checkpointed last (the full's, its deltas' updates replayed), e.g. to compare with a follower's. */
export async function readCheckpointedPolicy(
  leases: LeaseStore,
  name: string,
  windowMs: number,
): Promise<BasePolicy | undefined> {
  const restored = await readCheckpoint(leases, name, windowMs);
  if (!restored) return undefined;
  const policy = restorePolicy(restored.checkpoint.policy);
  for (const update of restored.updates) policy.update(update);
  return policy;
}

/** One checkpoint to write: where, what, and (a full) the policy snapshot it holds. */
export interface CheckpointWrite {
  key: string;
  bytes: Uint8Array;
  kind: "full" | "delta";
  policy?: PolicySnapshot;
  /** Call once the fenced write was accepted: the next delta follows this one. */
  accepted(): void;
}

/** A term's checkpoints: a full first and every `fullEvery`, deltas between (see "Incremental"). */
export class CheckpointLog {
  private updates: PolicyFeedback[] = [];
  /** Deltas written since this term's last full; -1 until this term wrote one. */
  private seq = -1;

  constructor(
    private generation: number,
    private readonly fullEvery: number,
  ) {}

  /** A policy update the learner applied (in order): the next delta holds it. */
  record(update: PolicyFeedback): void {
    this.updates.push(update);
  }

  /** The policy was replaced (re-registered): the next checkpoint is a full, and updates so far are moot. */
  forceFull(): void {
    this.seq = -1;
    this.updates = [];
  }

  /**
   * The next checkpoint of this state, taken now (the join's delta and the updates are consumed). A full one
   * yields to the event loop while `policy` copies the policy (in slices) and while it reads the join
   * (`StreamJoin.encodeState`): the caller must not change the join or the policy until this resolves.
   */
  async next(
    policy: () => Promise<PolicySnapshot>,
    join: StreamJoin,
    positions: Positions,
    applied: number,
  ): Promise<CheckpointWrite> {
    if (this.seq < 0 || this.seq + 1 >= this.fullEvery) return this.full(await policy(), join, positions, applied);
    const seq = this.seq + 1;
    const delta: LearnerCheckpointDelta = {
      generation: this.generation,
      seq,
      updates: this.updates,
      join: join.takeDelta(),
      positions,
      applied,
    };
    this.updates = [];
    return { key: deltaKey(seq), bytes: encodeCheckpointDelta(delta), kind: "delta", accepted: () => (this.seq = seq) };
  }

  private async full(
    snapshot: PolicySnapshot,
    join: StreamJoin,
    positions: Positions,
    applied: number,
  ): Promise<CheckpointWrite> {
    const generation = this.generation + 1;
    await nextTurn(); // the policy's snapshot (taken by the caller) and the join's first slice: two sections
    const columns = await join.encodeState(() => nextTurn());
    const checkpoint: ColumnarCheckpoint = { policy: snapshot, join: columns, positions, applied, generation };
    join.resetDelta();
    this.updates = [];
    return {
      key: CHECKPOINT_KEY,
      bytes: await encodeCheckpointOffThread(checkpoint),
      kind: "full",
      policy: snapshot,
      accepted: () => {
        this.generation = generation;
        this.seq = 0;
      },
    };
  }
}

/**
 * The same bytes as `withHeader(magic, format, serialize(value))`, without copying the serializer's output once
 * more (a full checkpoint or policy version of the default policy is tens of MB): what v8.serialize does, with
 * the header written first.
 */
export function serializeWithHeader(magic: readonly number[], format: number, value: unknown): Uint8Array {
  const serializer = new DefaultSerializer();
  serializer.writeRawBytes(Uint8Array.from([...magic, format]));
  serializer.writeHeader();
  serializer.writeValue(value);
  return serializer.releaseBuffer();
}

/** `magic` + format byte + body, one buffer. */
export function withHeader(magic: readonly number[], format: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(magic.length + 1 + payload.byteLength);
  out.set(magic, 0);
  out[magic.length] = format;
  out.set(payload, magic.length + 1);
  return out;
}

/** The payload after a header, refusing bytes of another kind or a format this code does not read. */
export function body(bytes: Uint8Array, magic: readonly number[], format: number, what: string): Buffer {
  const ok = magic.every((b, i) => bytes[i] === b);
  if (!ok) throw new Error(`not a ${what} (bad magic)`);
  if (bytes[magic.length] !== format) {
    throw new Error(`${what} format ${bytes[magic.length]} is not readable by this version (reads ${format})`);
  }
  const start = bytes.byteOffset + magic.length + 1;
  return Buffer.from(bytes.buffer, start, bytes.byteLength - magic.length - 1);
}
