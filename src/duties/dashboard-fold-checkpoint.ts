import { deserialize, serialize } from "node:v8";
import type { AttributionPart } from "../app/dashboard-ports.js";
import type { MinuteAggregator } from "../app/minute-aggregates.js";
import type { FoldAttribution } from "../app/minute-attribution.js";
import type { FeedDecisionTuple, FoldFeed } from "./dashboard-fold-feed.js";

/**
 * The attribution part of the `dashboard-fold` duty's checkpoint: the fold's tracked decisions and sessions
 * (app/minute-attribution.ts) and the feed's judged decisions (dashboard-fold-feed.ts), so that after a takeover
 * a reward or purchase of a decision folded before the new holder's checkpoint is attributed as the old holder
 * would have (the same minutes as an uninterrupted fold).
 *
 * **Why a checkpoint and not a read of the durable log on a miss.** Re-reading a decision from PostgreSQL when a
 * reward misses costs nothing in steady state, but cannot rebuild what attribution needs as of the checkpoint's
 * position: which of the decision's rewards were already counted (PostgreSQL holds those committed since, too),
 * its activation as of then, and the sessions (a session opened before the takeover would be counted again by
 * its next decision, and its revenue² restarted), which would take a read of events per new session for the
 * session's idle time (2 h). The checkpoint is exact and bounded by the same caps as the in-process fold: only
 * decisions inside the reward horizon (two reward windows) and sessions inside `dashboard.sessionTtl`, each at
 * most `dashboard.maxTracked`.
 *
 * **Incremental.** Rewriting the whole state every checkpoint (each second while caught up) costs what it weighs
 * (~100-200 B a decision: tens of MB at 100k tracked). So a full is followed by deltas, each the entries changed
 * since the checkpoint before (their state as it is, not a diff); a restore applies the full and the deltas in
 * order. A full is written again at a term's first checkpoint, after a failed write, and once the deltas since
 * the last full weigh as much as it (at least FULL_FLOOR_BYTES): every byte of a full is paid by as many delta
 * bytes, so the writes stay within 3× the deltas and a restore reads at most about twice a full.
 * Deletions are not written: a restore re-applies the cut the old holder made (`prune` at its last prune time)
 * and the caps, which forget the same entries.
 *
 * Binary: a 4-byte header (magic "LWA", format) and the V8 serializer's bytes (node:v8), as the learner's
 * checkpoints (learner-checkpoint.ts); it also writes each interned series list once.
 */
interface AttributionData {
  fold: FoldAttribution;
  feed: FeedDecisionTuple[];
}

const MAGIC = [0x4c, 0x57, 0x41]; // "LWA"
const FORMAT = 1;
/** Deltas below this much never force a full (small states would otherwise rewrite at every checkpoint). */
const FULL_FLOOR_BYTES = 64 * 1024;

export function encodeAttribution(data: AttributionData): Uint8Array {
  const body = serialize(data);
  const out = new Uint8Array(4 + body.length);
  out.set([...MAGIC, FORMAT]);
  out.set(body, 4);
  return out;
}

export function decodeAttribution(bytes: Uint8Array): AttributionData {
  if (bytes.length < 4 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error("not a dashboard-fold attribution checkpoint");
  }
  if (bytes[3] !== FORMAT) throw new Error(`dashboard-fold attribution format ${bytes[3]} is not readable here`);
  return deserialize(bytes.subarray(4)) as AttributionData;
}

/** Decides full or delta for each checkpoint and makes the part. One per lease term. */
export class AttributionCheckpoints {
  private fullBytes = 0;
  private deltaBytes = 0;
  private needFull = true;

  /** The next part to write with a checkpoint (reads the changes; call `accepted` or `failed` after the write). */
  next(fold: MinuteAggregator, feed: FoldFeed): AttributionPart {
    const full = this.needFull || this.deltaBytes >= Math.max(this.fullBytes, FULL_FLOOR_BYTES);
    const bytes = encodeAttribution({ fold: fold.attribution(full), feed: feed.decisionState(full) });
    return { full, bytes };
  }

  accepted(part: AttributionPart): void {
    if (part.full) {
      this.fullBytes = part.bytes.length;
      this.deltaBytes = 0;
      this.needFull = false;
    } else {
      this.deltaBytes += part.bytes.length;
    }
  }

  /** The write failed: its changes are no longer recorded, so the next checkpoint writes everything. */
  failed(): void {
    this.needFull = true;
  }
}

/** Restores the parts of the last accepted checkpoint (a full, then its deltas in order). */
export function restoreAttribution(parts: readonly Uint8Array[], fold: MinuteAggregator, feed: FoldFeed): void {
  for (const bytes of parts) {
    const data = decodeAttribution(bytes);
    fold.restoreAttribution(data.fold);
    feed.restoreDecisions(data.feed);
  }
}
