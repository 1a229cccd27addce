import type { Item, UserEvent } from "../../core/types.js";
import type { RewardOutcome, RewardRecord } from "../../decisions/decision-record.js";

/**
 * The log writer's write operations: plain data (structured-cloneable, record bytes transferable), so
 * they can be shipped to the writer's thread. Each op's result type is in `OpResult`.
 */
export interface EncodedDecision {
  decisionId: string;
  timestamp: number;
  userId: string;
  policyId: string;
  activated: boolean;
  activatedAt: number | null;
  /** record-codec.ts bytes. */
  bytes: Uint8Array;
}

export type LogOp =
  /** Insert-or-keep: resolves true when inserted, false when a decision with this id existed (unchanged). */
  | { kind: "decision"; decision: EncodedDecision }
  /** All or none (imports, benchmarks); a duplicate id fails the whole op. */
  | { kind: "decisions"; decisions: EncodedDecision[] }
  | { kind: "activate"; decisionId: string; at: number }
  | { kind: "reward"; reward: RewardRecord; windowMs: number }
  /** Deduplicated by event id: resolves the indices of the events inserted. */
  | { kind: "events"; events: UserEvent[] }
  | { kind: "items"; items: Item[] };

export interface OpResult {
  decision: boolean;
  decisions: undefined;
  activate: boolean;
  reward: RewardOutcome | undefined;
  events: number[];
  items: undefined;
}

export type OpOf<K extends LogOp["kind"]> = Extract<LogOp, { kind: K }>;

/** Bytes an op holds while queued (the queue's memory bound counts these). */
export function opBytes(op: LogOp): number {
  switch (op.kind) {
    case "decision":
      return op.decision.bytes.byteLength + 200;
    case "decisions":
      return op.decisions.reduce((n, d) => n + d.bytes.byteLength + 200, 0);
    case "events":
      return op.events.length * 400;
    case "items":
      return op.items.length * 400;
    default:
      return 200;
  }
}

/** The buffers an op can hand over to the writer's thread without copying. */
export function opTransfer(op: LogOp): ArrayBuffer[] {
  if (op.kind === "decision") return [op.decision.bytes.buffer as ArrayBuffer];
  if (op.kind === "decisions") return op.decisions.map((d) => d.bytes.buffer as ArrayBuffer);
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
