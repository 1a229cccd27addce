import { snapshotTransfer } from "../../bandit/snapshot-codec.js";
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
 * JSON of a large snapshot (megabytes for the hybrid default) nor the wait for the writer's lock runs on
 * the event loop. SQLite only: not a decision-stream op (the PostgreSQL store and the stream never see it).
 */
export interface PolicySnapshotRow {
  id: string;
  type: string;
  version: number;
  updates: number;
  savedAt: number;
  /** The snapshot as plain data; the writer stores its JSON (bandit/snapshot-codec.ts `snapshotJson`). */
  snapshot: unknown;
  /** The caller handed the snapshot over: its typed arrays are transferred to the writer's thread, not copied. */
  handOver?: boolean;
  /**
   * The snapshot's JSON as UTF-8, built off the writer's thread (snapshot-encoder.ts): stored as it is, and
   * `snapshot` is not sent. Transferred.
   */
  json?: Uint8Array;
}

/** Upserts a policy snapshot's row (the policy store's table); the parameters in `PolicySnapshotRow` order. */
export const SAVE_POLICY_SQL = `INSERT INTO policy_snapshots (id, type, version, updates, created_at, saved_at, snapshot)
  VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT(id) DO UPDATE SET type = excluded.type, version = excluded.version, updates = excluded.updates,
    saved_at = excluded.saved_at, snapshot = excluded.snapshot`;

/** SAVE_POLICY_SQL with the snapshot bound as UTF-8 bytes (`json`), stored as the same TEXT. */
export const SAVE_POLICY_BYTES_SQL = SAVE_POLICY_SQL.replace(
  "VALUES (?, ?, ?, ?, ?, ?, ?)",
  "VALUES (?, ?, ?, ?, ?, ?, CAST(? AS TEXT))",
);

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
export type LogOp = DurableLogOp | { kind: "policySnapshot"; row: PolicySnapshotRow } | RetentionOp;

export interface OpResult extends DurableOpResult {
  policySnapshot: undefined;
  retention: RetentionStep;
}

export type OpOf<K extends LogOp["kind"]> = Extract<LogOp, { kind: K }>;

/**
 * Bytes an op holds while queued. A snapshot counts as a small op: the registry saves one policy at a time
 * and awaits it (policy-registry.ts `persist`), so at most one is queued per store, and one larger than the
 * queue's byte bound must still be saved rather than refused at every interval.
 */
export function opBytes(op: LogOp): number {
  return op.kind === "policySnapshot" || op.kind === "retention" ? 200 : durableOpBytes(op);
}

/** The buffers an op can hand over to the writer's thread without copying. */
export function opTransfer(op: LogOp): ArrayBuffer[] {
  if (op.kind === "decision") return [op.decision.bytes.buffer as ArrayBuffer];
  if (op.kind === "decisions") return op.decisions.map((d) => d.bytes.buffer as ArrayBuffer);
  if (op.kind === "policySnapshot" && op.row.json) return [op.row.json.buffer as ArrayBuffer];
  if (op.kind === "policySnapshot" && op.row.handOver) return snapshotTransfer(op.row.snapshot);
  return [];
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
