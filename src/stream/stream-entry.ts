import { murmur3 } from "../core/hash.js";
import type { UserEvent } from "../core/types.js";
import type { EncodedDecision, OpOf } from "../decisions/log-ops.js";

/**
 * What serving appends to the decision stream (issue 13: the stream is the spine). Decisions, activations and
 * rewards are the log writer's own ops (`storage/sqlite/log-ops.ts`), so the log writer consumes them as they
 * come; a decision carries its compact record bytes (record-codec.ts). Events travel one per entry (their
 * partition is their decision's, or their user's), and exposures say which rollout arm a decision was routed to.
 */
export type StreamEntry =
  | OpOf<"decision">
  | OpOf<"activate">
  | OpOf<"reward">
  | { kind: "event"; event: UserEvent }
  | { kind: "exposure"; exposure: Exposure };

export type StreamEntryKind = StreamEntry["kind"];

/** A decision routed by a rollout: the tracker counts these (exposure-based analysis, arm-tracker.ts). */
export interface Exposure {
  decisionId: string;
  rolloutId: string;
  stage: number;
  arm: "candidate" | "incumbent";
  userId: string;
  sessionId?: string;
  /** Epoch ms (server time) when the decision was served. */
  at: number;
}

/**
 * The key that picks an entry's partition: the decision id, so that everything about one decision lands in
 * one partition in append order (the joiner then sees a decision before its rewards). An event that answers no
 * decision is keyed by its user.
 */
export function partitionKey(entry: StreamEntry): string {
  switch (entry.kind) {
    case "decision":
      return entry.decision.decisionId;
    case "activate":
      return entry.decisionId;
    case "reward":
      return entry.reward.decisionId;
    case "event":
      return entry.event.decisionId ?? `user:${entry.event.userId}`;
    case "exposure":
      return entry.exposure.decisionId;
  }
}

/** A seed of its own, so partitions are independent of rollout and exploration buckets (DESIGN.md). */
const PARTITION_SEED = 0x5713_ea11;

export function partitionOf(key: string, partitions: number): number {
  return murmur3(key, PARTITION_SEED) % partitions;
}

const KIND_CODES: Record<StreamEntryKind, number> = { decision: 1, activate: 2, reward: 3, event: 4, exposure: 5 };
const KINDS_BY_CODE = new Map(Object.entries(KIND_CODES).map(([k, c]) => [c, k as StreamEntryKind]));

/**
 * One entry as bytes: a kind byte, then a length-prefixed JSON header, then (decisions only) the record-codec
 * bytes as they are. The record stays binary and uncopied into JSON; the small fields stay readable in
 * `redis-cli XRANGE`. Version 1 of the layout is the kind code itself (a new layout takes new codes).
 */
export function encodeEntry(entry: StreamEntry): Buffer {
  const { header, body } = splitEntry(entry);
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const out = Buffer.allocUnsafe(5 + json.byteLength + (body?.byteLength ?? 0));
  out.writeUInt8(KIND_CODES[entry.kind], 0);
  out.writeUInt32LE(json.byteLength, 1);
  json.copy(out, 5);
  if (body) out.set(body, 5 + json.byteLength);
  return out;
}

function splitEntry(entry: StreamEntry): { header: unknown; body?: Uint8Array } {
  if (entry.kind !== "decision") return { header: entry };
  const { bytes, ...fields } = entry.decision;
  return { header: fields, body: bytes };
}

export function decodeEntry(bytes: Uint8Array): StreamEntry {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kind = KINDS_BY_CODE.get(buf.readUInt8(0));
  if (!kind) throw new Error(`unknown stream entry kind code ${buf.readUInt8(0)}`);
  const jsonLength = buf.readUInt32LE(1);
  const header = JSON.parse(buf.toString("utf8", 5, 5 + jsonLength)) as Record<string, unknown>;
  if (kind !== "decision") return header as StreamEntry;
  // A copy, so the record owns its bytes (transferable to the log writer's thread, not a view of a pooled slab).
  const recordBytes = new Uint8Array(buf.subarray(5 + jsonLength));
  return { kind, decision: { ...(header as Omit<EncodedDecision, "bytes">), bytes: recordBytes } };
}
