/**
 * Snapshot publication (issue 13): the learner publishes versioned policy snapshots, the trainer models, the
 * rollout controller its state; API nodes follow them in order (snapshot-follower.ts). A version is either a
 * full snapshot or a delta on the version before it. Adapters: `storage/memory/snapshot-store-memory.ts`,
 * `storage/redis/snapshot-store-redis.ts`; both pass `snapshot-store.contract.ts`.
 *
 * Versions per name: a delta must be exactly the latest version + 1, a full any version above the latest (a
 * learner restored from an older checkpoint publishes a full at its next version). A publish that breaks this
 * is refused whole (`SnapshotVersionConflict`): two publishers that both think they are the learner cannot
 * interleave deltas, the second one's publish fails.
 *
 * Fencing: a publisher under a lease passes its fencing token (`fence`). A publish fenced with a token below the
 * highest one the name was published with is refused whole (`SnapshotFencedOut`): a holder frozen past its
 * lease (GC, SIGSTOP) that wakes and publishes is stopped by the store itself, also for a full, which the
 * version rule alone would accept at the latest + 1 over the new holder's. Unfenced publishes are not checked.
 *
 * Retention: the store keeps every version from its `keepFull`-th newest full snapshot on, and drops the older
 * ones when a full is published. A publisher bounds the deltas by publishing a full every so often.
 */
export interface SnapshotStore {
  /** Publishes a version (see the header); `fence`: the publisher's fencing token. */
  publish(name: string, version: number, bytes: Uint8Array, kind: SnapshotKind, fence?: number): Promise<void>;
  /** The newest version, if any. */
  latest(name: string): Promise<SnapshotRef | undefined>;
  /** The retained versions, oldest first. */
  versions(name: string): Promise<SnapshotRef[]>;
  /**
   * What a consumer at version `have` (undefined: nothing yet) needs to reach the latest, in apply order:
   * the versions after `have` when it is at or past the last full and they are all retained, else the last
   * full and the deltas after it. Empty when `have` is the latest.
   */
  since(name: string, have: number | undefined, options?: SinceOptions): Promise<Snapshot[]>;
  /**
   * Bytes [start, end) of a retained version (clipped to its length), a copy the caller owns; undefined when the
   * version is not retained (any more). With `since`'s `fullPrefix`, a follower reads a full's head without its
   * body, and a large full in parts: one reply of ~35 MB (a policy full at 2,000 arms) costs the event loop a
   * ~35 MB allocation and copy in one turn (~90 ms of CPU measured on the bench machine).
   */
  range(name: string, version: number, start: number, end: number): Promise<Uint8Array | undefined>;
  /**
   * Calls `onVersion` when a version is published (at least once for the newest; a consumer may be told of a
   * version twice or skip one, so it fetches with `since`). Resolves the function that stops it.
   */
  subscribe(name: string, onVersion: (version: number) => void): Promise<() => void>;
  close(): Promise<void>;
}

export type SnapshotKind = "full" | "delta";

export interface SnapshotRef {
  version: number;
  kind: SnapshotKind;
}

export interface Snapshot extends SnapshotRef {
  /** The version's bytes, a copy the caller owns (a full's first `fullPrefix` bytes only when asked so). */
  bytes: Uint8Array;
  /** With `fullPrefix`, a full's whole length (`range` reads the rest). */
  size?: number;
}

export interface SinceOptions {
  /** Fulls answered as their first `fullPrefix` bytes and their `size`; deltas whole. */
  fullPrefix?: number;
}

export class SnapshotVersionConflict extends Error {
  constructor(name: string, version: number, kind: SnapshotKind, latest: number | undefined) {
    super(
      `snapshot ${name}: cannot publish ${kind} version ${version} after ${latest === undefined ? "nothing" : `version ${latest}`}` +
        ` (a delta must follow the latest version; a full must be newer than it; the first must be a full)`,
    );
    this.name = "SnapshotVersionConflict";
  }
}

/** A publish fenced with a token older than one the name was already published with (see the header). */
export class SnapshotFencedOut extends Error {
  constructor(name: string, fence: number, highest: number) {
    super(`snapshot ${name}: publish fenced with token ${fence} refused, token ${highest} already published`);
    this.name = "SnapshotFencedOut";
  }
}

/** Whether a publish fenced with `fence` may follow publishes fenced up to `highest`; one rule for every adapter. */
export function mayFence(highest: number | undefined, fence: number | undefined): boolean {
  return fence === undefined || highest === undefined || fence >= highest;
}

export const DEFAULT_KEEP_FULL = 2;

/** Whether `version` of `kind` may follow `latest` (see the header); one rule for every adapter. */
export function mayPublish(latest: number | undefined, version: number, kind: SnapshotKind): boolean {
  if (!Number.isSafeInteger(version) || version < 1) return false;
  if (kind === "full") return latest === undefined || version > latest;
  return latest !== undefined && version === latest + 1;
}

/** The versions `since` answers, from the retained refs (oldest first); see `SnapshotStore.since`. */
export function plan(retained: readonly SnapshotRef[], have: number | undefined): SnapshotRef[] {
  const latest = retained[retained.length - 1];
  if (!latest || (have !== undefined && have >= latest.version)) return [];
  let lastFull = -1;
  for (let i = retained.length - 1; i >= 0 && lastFull < 0; i--) if (retained[i]!.kind === "full") lastFull = i;
  if (lastFull < 0) return []; // cannot happen: the first version is a full and retention keeps one
  if (have !== undefined && have >= retained[lastFull]!.version) {
    const after = retained.filter((r) => r.version > have);
    if (after[0]!.version === have + 1) return after; // deltas are contiguous after a full (mayPublish)
  }
  return retained.slice(lastFull);
}

/** The index of the oldest version to keep: the `keepFull`-th newest full's (0 when there are fewer). */
export function retentionStart(retained: readonly SnapshotRef[], keepFull: number): number {
  let fulls = 0;
  for (let i = retained.length - 1; i >= 0; i--) {
    if (retained[i]!.kind === "full" && ++fulls === keepFull) return i;
  }
  return 0;
}
