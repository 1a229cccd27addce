import type { PolicySnapshot } from "../../bandit/base-policy.js";
import { decodeSnapshotBinary, joinParts } from "../../bandit/snapshot-binary.js";
import type { SnapshotHead } from "../snapshot-encoder.js";
import type { PgClient } from "./pool.js";

/**
 * Policy snapshots on PostgreSQL as rows (migration 9): `policy_snapshots` has the policy's head (type, version,
 * updates, times) and either its JSON text in `snapshot` (rows written before migration 9, still read) or, in
 * `parts`, how many rows of `policy_snapshot_parts` hold its binary snapshot (bandit/snapshot-binary.ts), in
 * part order.
 *
 * Why parts, when PostgreSQL stores a bytea of up to 1 GB out of line: not for the server, for the event loop
 * of the process saving or loading. The default policy at its 2,000 arms is ~35 MB binary (~70 MB when every
 * arm's serving copy differs). node-postgres copies a parameter into its bind message (several times while
 * growing its buffer) in one synchronous step, and parses a bytea result (hex text, twice the bytes) in one: a
 * single value blocked a learner worker's loop 100-300 ms a save or load (bench/policy-store-postgres.bench.ts),
 * where its lease renewals must run. A part is one statement's copy, a load one row's parse (~1 MiB each).
 * Unlike SQLite (storage/sqlite/policy-snapshot-rows.ts), the parts and the row are written in one transaction:
 * PostgreSQL's other writers (the log writer's commits on their own connection) do not wait for it, so the
 * save stays atomic, with no torn parts to prune after a crash.
 * Parts are read as base64 text (`encode(bytes, 'base64')`, decoded by `Buffer.from(text, "base64")`, which skips
 * the line breaks PostgreSQL writes every 76 characters): ~1.4 MB of text a part instead of bytea's ~2 MB of hex,
 * and 0.5-0.7x the main-thread CPU of the hex form in one run (34 parts of 1 MiB: 246-351 ms against 482-814 ms
 * at load 12-13; dropping the line breaks server-side, `translate`, saved nothing). Not a binary-format result:
 * node-postgres 8's protocol parser reads every field as a UTF-8 string, so binary bytes would be corrupted.
 */
export const PG_SNAPSHOT_PART_BYTES = 1024 * 1024;

/**
 * Writes the snapshot's head row, then its parts, inside the caller's transaction. `guard` is a condition on the
 * stored row under which it is replaced (a fenced save's "not over a newer revision"): when it does not hold,
 * nothing is written and false is returned. The row is written first so that concurrent saves of one policy
 * queue on its lock before either touches the parts.
 */
export async function writeSnapshotRows(
  client: PgClient,
  head: SnapshotHead,
  parts: readonly Uint8Array[],
  guard = "",
): Promise<boolean> {
  const upserted = await client.query(
    `INSERT INTO policy_snapshots (id, type, version, updates, created_at, saved_at, snapshot, parts)
     VALUES ($1, $2, $3, $4, $5, $5, NULL, $6)
     ON CONFLICT (id) DO UPDATE SET type = excluded.type, version = excluded.version, updates = excluded.updates,
       saved_at = excluded.saved_at, snapshot = NULL, parts = excluded.parts${guard}`,
    [head.id, head.type, head.version, head.updates, head.savedAt, parts.length],
  );
  if (upserted.rowCount !== 1) return false;
  for (const [part, bytes] of parts.entries()) {
    await client.query(
      `INSERT INTO policy_snapshot_parts (id, part, bytes) VALUES ($1, $2, $3)
       ON CONFLICT (id, part) DO UPDATE SET bytes = excluded.bytes`,
      [head.id, part, asBuffer(bytes)], // a Buffer: pg sends it in binary, not as hex text
    );
  }
  await client.query("DELETE FROM policy_snapshot_parts WHERE id = $1 AND part >= $2", [head.id, parts.length]);
  return true;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The stored snapshots with their parts, as one statement reads them (one MVCC snapshot: a save committing
 * meanwhile is seen whole or not at all). `WHERE` selects the policies; rows come in `ORDER BY` order of
 * policies, each policy's parts in order.
 */
export function selectSnapshotRows(where: string): string {
  return `SELECT s.id, s.saved_at, s.snapshot, s.parts, encode(p.bytes, 'base64') AS bytes
    FROM policy_snapshots s LEFT JOIN policy_snapshot_parts p ON p.id = s.id
    ${where} ORDER BY s.created_at, s.id, p.part`;
}

export interface SnapshotRow {
  id: string;
  saved_at: number;
  /** The JSON a row written before migration 9 holds until its policy's next save. */
  snapshot: string | null;
  parts: number | null;
  /** A part's bytes as base64 (see the header). */
  bytes: string | null;
}

/** Decodes a binary snapshot's base64 parts off the event loop (snapshot-encoder.ts `decodeBase64Parts`). */
export type Base64PartsDecoder = (parts: readonly string[]) => Promise<PolicySnapshot>;

/**
 * Below this much base64 a snapshot decodes here at once: a thread's round trip (starting it, cloning the header
 * back) costs more than ~1 ms of decoding. At and above it (the default policy from a few dozen arms) on the
 * decoder's thread: at 2,000 arms decoding in place held the event loop 235-307 ms.
 */
export const OFF_THREAD_BASE64_CHARS = 1024 * 1024;

/**
 * The rows of `selectSnapshotRows` as one snapshot per policy, in their order; large binary snapshots decoded by
 * `decodeOffThread`. Rejects (nothing half loaded: the caller gets no snapshot) when a snapshot's parts are
 * missing or its bytes are not a readable snapshot.
 */
export async function readSnapshotRows(
  rows: readonly SnapshotRow[],
  decodeOffThread?: Base64PartsDecoder,
): Promise<{ snapshot: PolicySnapshot; savedAt: number }[]> {
  const out: { snapshot: PolicySnapshot; savedAt: number }[] = [];
  for (let i = 0; i < rows.length; ) {
    const head = rows[i] as SnapshotRow;
    const parts: string[] = [];
    for (; i < rows.length && (rows[i] as SnapshotRow).id === head.id; i++) {
      const bytes = (rows[i] as SnapshotRow).bytes;
      if (bytes !== null) parts.push(bytes);
    }
    out.push({ snapshot: await snapshotOf(head, parts, decodeOffThread), savedAt: head.saved_at });
  }
  return out;
}

async function snapshotOf(
  head: SnapshotRow,
  parts: string[],
  decodeOffThread: Base64PartsDecoder | undefined,
): Promise<PolicySnapshot> {
  if (head.snapshot !== null) return JSON.parse(head.snapshot) as PolicySnapshot;
  if (head.parts !== parts.length)
    throw new Error(`policy ${head.id}: ${parts.length} of its snapshot's ${head.parts} parts are stored`);
  const chars = parts.reduce((n, p) => n + p.length, 0);
  if (decodeOffThread && chars >= OFF_THREAD_BASE64_CHARS) return decodeOffThread(parts);
  return decodeSnapshotBinary<PolicySnapshot>(joinParts(parts.map((text) => Buffer.from(text, "base64"))));
}
