import type { LogOp } from "../../decisions/log-ops.js";

export type { EncodedDecision, LogOp, OpOf, OpResult } from "../../decisions/log-ops.js";
export { opBytes } from "../../decisions/log-ops.js";

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
