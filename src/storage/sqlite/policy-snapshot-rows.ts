import type { PolicySnapshot } from "../../bandit/base-policy.js";
import { decodeSnapshotBinary, isBinarySnapshot, joinParts } from "../../bandit/snapshot-binary.js";
import type { SqliteDb } from "./database.js";

/**
 * What the `snapshot` column of `policy_snapshots` holds, in the three forms a data dir may have:
 * - TEXT: the snapshot's JSON (every version before this one wrote it; still read);
 * - a BLOB of the binary snapshot (bandit/snapshot-binary.ts, "LWS" 1) when it is small;
 * - a BLOB "LWR" 1 · u32 parts · f64 save: a reference to the rows of `policy_snapshot_parts` with that policy id
 *   and save number, whose bytes in part order are the binary snapshot.
 * Why parts: the log writer's thread stores snapshots between the commits every request waits for, and the
 * default policy's binary snapshot is megabytes: written one part per commit (`SNAPSHOT_PART_BYTES`), no commit
 * holds that thread for longer than one part takes, where one row held it 40-90 ms (1.2 s on a loaded box).
 * The parts of a save are written before the row that names them, in transactions of their own, so a crash
 * in between leaves the previous snapshot in place; parts no row names are pruned after the next save of the
 * policy (or its delete), a few per commit.
 */
export const SNAPSHOT_PART_BYTES = 256 * 1024;

export const CREATE_PARTS_SQL = `CREATE TABLE IF NOT EXISTS policy_snapshot_parts (
  id TEXT NOT NULL,
  save INTEGER NOT NULL,
  part INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (id, save, part)
)`;

export const INSERT_PART_SQL = `INSERT INTO policy_snapshot_parts (id, save, part, bytes) VALUES (?, ?, ?, ?)
  ON CONFLICT (id, save, part) DO UPDATE SET bytes = excluded.bytes`;

/** Parts of policy `id` not of save `keep`: up to `max` rows per statement, so one step stays short. */
export const PRUNE_PARTS_SQL = `DELETE FROM policy_snapshot_parts WHERE rowid IN
  (SELECT rowid FROM policy_snapshot_parts WHERE id = ? AND save <> ? LIMIT ?)`;

/** Parts a prune step deletes at most (each up to `SNAPSHOT_PART_BYTES`). */
export const PRUNE_PARTS_PER_STEP = 2;

const REFERENCE_MAGIC = [0x4c, 0x57, 0x52]; // "LWR"
const REFERENCE_BYTES = 16;

/** The row's value naming `parts` parts of save `save`. */
export function partsReference(save: number, parts: number): Uint8Array {
  const out = new Uint8Array(REFERENCE_BYTES);
  out.set(REFERENCE_MAGIC);
  out[3] = 1;
  const view = new DataView(out.buffer);
  view.setUint32(4, parts, true);
  view.setFloat64(8, save, true);
  return out;
}

function readReference(bytes: Uint8Array): { save: number; parts: number } | undefined {
  if (bytes.length !== REFERENCE_BYTES || REFERENCE_MAGIC.some((b, i) => bytes[i] !== b)) return undefined;
  if (bytes[3] !== 1) throw new Error(`policy snapshot reference format ${bytes[3]} is not readable here`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { parts: view.getUint32(4, true), save: view.getFloat64(8, true) };
}

/** A save number for a new snapshot's parts: distinct from the policy's others (random, 48 bits). */
export function newSaveNumber(): number {
  return Math.floor(Math.random() * 2 ** 48);
}

/** The snapshot a `policy_snapshots` row holds, whichever form it has (see the header). */
export function readStoredSnapshot(db: SqliteDb, id: string, stored: string | Uint8Array): PolicySnapshot {
  if (typeof stored === "string") return JSON.parse(stored) as PolicySnapshot;
  const reference = readReference(stored);
  if (!reference) {
    if (!isBinarySnapshot(stored)) throw new Error(`policy ${id}: its stored snapshot is in no known form`);
    return decodeSnapshotBinary<PolicySnapshot>(stored);
  }
  const rows = db
    .prepare("SELECT bytes FROM policy_snapshot_parts WHERE id = ? AND save = ? ORDER BY part")
    .pluck()
    .all(id, reference.save) as Uint8Array[];
  if (rows.length !== reference.parts)
    throw new Error(`policy ${id}: ${rows.length} of its snapshot's ${reference.parts} parts are stored`);
  return decodeSnapshotBinary<PolicySnapshot>(joinParts(rows));
}
