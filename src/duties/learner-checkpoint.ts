import { deserialize, serialize } from "node:v8";
import type { PolicySnapshot } from "../bandit/base-policy.js";
import type { Positions } from "../stream/stream-positions.js";
import type { JoinState } from "./learner-join.js";

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
 */
export interface LearnerCheckpoint {
  policy: PolicySnapshot;
  join: JoinState;
  positions: Positions;
  /** Entries applied by all holders so far (for status and tests). */
  applied: number;
}

const MAGIC = [0x4c, 0x57, 0x43]; // "LWC"
const FORMAT = 1;

export function encodeCheckpoint(checkpoint: LearnerCheckpoint): Uint8Array {
  return withHeader(MAGIC, FORMAT, serialize(checkpoint));
}

export function decodeCheckpoint(bytes: Uint8Array): LearnerCheckpoint {
  return deserialize(body(bytes, MAGIC, FORMAT, "learner checkpoint")) as LearnerCheckpoint;
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
