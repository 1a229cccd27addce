import { rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { DecisionRecord } from "../../src/decisions/decision-record.js";
import type { EncodedDecision } from "../../src/decisions/log-ops.js";
import { decodeRecord } from "../../src/storage/sqlite/record-codec.js";

/** A logged decision read back: its row's columns as a log op (without bytes) and its decoded record. */
export interface LoggedDecision {
  op: Omit<EncodedDecision, "bytes">;
  record: DecisionRecord;
}

/**
 * The decisions a closed engine logged in `dataDir` (SQLite), in log order, with the slots' distributions as
 * Float64Arrays (what rank hands the log writer); the data dir is removed. The log benches replay them.
 */
export function readLoggedDecisions(dataDir: string): LoggedDecision[] {
  const db = new Database(join(dataDir, "loopwise.db"), { readonly: true });
  const rows = db
    .prepare(
      "SELECT decision_id, ts, user_id, policy_id, activated, activated_at, record FROM decisions ORDER BY rowid",
    )
    .all() as {
    decision_id: string;
    ts: number;
    user_id: string;
    policy_id: string;
    activated: number;
    activated_at: number | null;
    record: Buffer;
  }[];
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
  return rows.map((r) => {
    const record = decodeRecord(new Uint8Array(r.record));
    for (const s of record.slots) if (s.probabilities) s.probabilities = Float64Array.from(s.probabilities);
    const op = {
      decisionId: r.decision_id,
      timestamp: r.ts,
      userId: r.user_id,
      policyId: r.policy_id,
      activated: r.activated === 1,
      activatedAt: r.activated_at,
    };
    return { op, record };
  });
}
