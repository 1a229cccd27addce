import {
  type LogOp as DurableLogOp,
  type OpResult as DurableOpResult,
  opBytes as durableOpBytes,
} from "../../decisions/log-ops.js";
import type { RetentionStep } from "../../decisions/log-retention.js";

export type { EncodedDecision } from "../../decisions/log-ops.js";
export type { DurableLogOp, DurableOpResult };
export type DurableOpOf<K extends DurableLogOp["kind"]> = Extract<DurableLogOp, { kind: K }>;

/**
 * A policy snapshot's row (policy-store.ts), written by the SQLite log writer's thread so that neither the
 * encoding of a large snapshot (megabytes for the hybrid default) nor the wait for the writer's lock runs on
 * the event loop. SQLite only: not a decision-stream op (the PostgreSQL store and the stream never see it).
 */
export interface PolicySnapshotRow {
  id: string;
  type: string;
  version: number;
  updates: number;
  savedAt: number;
  /**
   * The `snapshot` column's bytes (policy-snapshot-rows.ts): the binary snapshot, or a reference to parts
   * written before by `policySnapshotPart` ops. Built off the writer's thread; transferred.
   */
  stored: Uint8Array;
}

/** One part of a policy snapshot's bytes, stored in a commit of its own before the row naming it (policy-snapshot-rows.ts). */
export interface PolicySnapshotPartOp {
  kind: "policySnapshotPart";
  id: string;
  save: number;
  part: number;
  bytes: Uint8Array;
}

/** Deletes a few parts of policy `id` not of save `keep` (an older save's); true while it found some. */
export interface PolicySnapshotPruneOp {
  kind: "policySnapshotPrune";
  id: string;
  keep: number;
}

/** Upserts a policy snapshot's row (the policy store's table); the parameters in `PolicySnapshotRow` order. */
export const SAVE_POLICY_SQL = `INSERT INTO policy_snapshots (id, type, version, updates, created_at, saved_at, snapshot)
  VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT(id) DO UPDATE SET type = excluded.type, version = excluded.version, updates = excluded.updates,
    saved_at = excluded.saved_at, snapshot = excluded.snapshot`;

/**
 * One bounded step of log retention (log-retention-sqlite.ts), run on the writer's thread between other writes:
 * deletes one expired facts block's decisions, or up to `maxEvents` expired events. SQLite only.
 */
export interface RetentionOp {
  kind: "retention";
  cutoff: number;
  maxEvents: number;
}

/** The ops the SQLite log writer applies: the durable log's, policy snapshots, and retention steps. */
export type LogOp =
  | DurableLogOp
  | { kind: "policySnapshot"; row: PolicySnapshotRow }
  | PolicySnapshotPartOp
  | PolicySnapshotPruneOp
  | RetentionOp;

export interface OpResult extends DurableOpResult {
  policySnapshot: undefined;
  policySnapshotPart: undefined;
  policySnapshotPrune: boolean;
  retention: RetentionStep;
}

export type OpOf<K extends LogOp["kind"]> = Extract<LogOp, { kind: K }>;

/**
 * Bytes an op holds while queued. A snapshot's row counts as a small op: the registry saves one policy at a time
 * and awaits it (policy-registry.ts `persist`), so at most one is queued per store, and its parts (at most
 * `SNAPSHOT_PART_BYTES` each, sent one at a time) count their bytes.
 */
export function opBytes(op: LogOp): number {
  if (op.kind === "policySnapshotPart") return op.bytes.byteLength;
  if (op.kind === "policySnapshot" || op.kind === "policySnapshotPrune" || op.kind === "retention") return 200;
  return durableOpBytes(op);
}

/** The buffers an op can hand over to the writer's thread without copying. */
export function opTransfer(op: LogOp): ArrayBuffer[] {
  if (op.kind === "decision") return [op.decision.bytes.buffer as ArrayBuffer];
  if (op.kind === "decisions") return op.decisions.map((d) => d.bytes.buffer as ArrayBuffer);
  if (op.kind === "policySnapshot") return ownedBuffer(op.row.stored);
  if (op.kind === "policySnapshotPart") return ownedBuffer(op.bytes);
  return [];
}

/** The array's buffer when it owns all of it (transferable without taking anyone else's bytes). */
function ownedBuffer(a: Uint8Array): ArrayBuffer[] {
  const whole = a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer;
  return whole ? [a.buffer as ArrayBuffer] : [];
}

/** An op's outcome as it crosses threads: errors as plain data. */
export type WireResult = { ok: true; value: unknown } | { ok: false; error: WireError };

export interface WireError {
  name: string;
  message: string;
  code?: string;
}

export function toWireError(error: unknown): WireError {
  const e = error as { name?: unknown; message?: unknown; code?: unknown };
  const out: WireError = {
    name: typeof e?.name === "string" ? e.name : "Error",
    message: typeof e?.message === "string" ? e.message : String(error),
  };
  if (typeof e?.code === "string") out.code = e.code;
  return out;
}

export function fromWireError(w: WireError): Error {
  const error = new Error(w.message) as Error & { code?: string };
  error.name = w.name;
  if (w.code !== undefined) error.code = w.code;
  return error;
}
