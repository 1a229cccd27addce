import type { Item, UserEvent } from "../core/types.js";
import type { RewardOutcome, RewardRecord } from "./decision-record.js";

/**
 * The durable log's write operations, whatever the backend: plain data (structured-cloneable, record bytes
 * transferable), so the SQLite writer ships them to its thread, PostgreSQL's writer batches them, and the
 * decision stream (stream/stream-entry.ts) carries them between nodes. Each op's result type is in `OpResult`.
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
