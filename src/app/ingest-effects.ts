import { LoopwiseError } from "../core/errors.js";
import type { UserEvent } from "../core/types.js";
import type { EngineParts } from "./engine-parts.js";

/** One stored event whose effects (feature update, reward join) have not all been applied yet. */
export interface Pending {
  event: UserEvent;
  featuresApplied: boolean;
  /** Being applied by a request now: a concurrent retry must not apply it twice. */
  claimed: boolean;
  /** In the pending set (see `hold`). */
  held: boolean;
  /** Every effect applied (`done`): never held again. */
  finished: boolean;
}

/**
 * Events that are durable in the event log but whose effects failed (e.g. a Redis hiccup between the
 * append and the feature update; issue 14, defect 9). A retry of the batch finds them as duplicates of
 * the log; they are then completed instead of being answered `duplicate` with their effects lost.
 * In memory, bounded (oldest dropped, counted): after a restart the memory feature store is rebuilt from
 * the log anyway, and a Redis store (which applies each event id once) gets what it missed from the retry,
 * which `applyEffects` applies again as a `retried` event.
 *
 * Only entries that need it enter the set (`hold`): one whose effect failed, and one that may join a reward
 * (held while the join is in flight, so a concurrent retry does not join it again). The common event (a
 * view, no reward) succeeds at once and never does: a set entry and its removal per event were a visible
 * share of the ingest profile at 100 events a request (issue 12).
 */
export class PendingEffects {
  private readonly pending = new Map<string, Pending>();
  dropped = 0;

  constructor(private readonly max = 100_000) {}

  /** Entries for freshly stored events, claimed by the caller; not in the set until held. */
  fresh(events: readonly UserEvent[]): Pending[] {
    return events.map((event) => ({ event, featuresApplied: false, claimed: true, held: false, finished: false }));
  }

  /** Puts entries in the set, where a retry's `claim` finds them, until `done`. */
  hold(entries: readonly Pending[]): void {
    for (const entry of entries) {
      if (entry.held) continue;
      if (this.pending.size >= this.max) {
        const oldest = this.pending.values().next().value as Pending;
        this.pending.delete(oldest.event.eventId);
        oldest.held = false;
        this.dropped++;
      }
      entry.held = true;
      this.pending.set(entry.event.eventId, entry);
    }
  }

  /**
   * Claims the entries still pending among these event ids (the stored originals, not the retried copies),
   * each once, for the caller to apply; `release` or `done` ends the claim.
   */
  claim(eventIds: readonly string[]): Pending[] {
    const out: Pending[] = [];
    for (const id of new Set(eventIds)) {
      const entry = this.pending.get(id);
      if (!entry || entry.claimed) continue;
      entry.claimed = true;
      out.push(entry);
    }
    return out;
  }

  /** Ends the claims of entries whose effects failed: the unfinished are held, for a retry to complete. */
  release(entries: readonly Pending[]): void {
    this.hold(entries.filter((entry) => !entry.finished));
    for (const entry of entries) entry.claimed = false;
  }

  done(entry: Pending): void {
    entry.finished = true;
    if (!entry.held) return;
    entry.held = false;
    this.pending.delete(entry.event.eventId);
  }

  get size(): number {
    return this.pending.size;
  }
}

/**
 * Applies stored events' effects in order: the feature store (so the next rank sees them) and the rollout
 * tracker, then the reward join. Each entry leaves the pending set only once all its effects are applied;
 * a failure is a 503 (the events are stored: retrying the same batch completes them).
 *
 * `retried` are events the log already held and this node has no pending entry for (issue 13: the first
 * attempt may have reached another node, or one killed between its log commit and these effects). Only the
 * effects that apply an id once run for them: the feature store when it `appliesOnce` (else each event is
 * its own node's to apply, and a crash rebuilds the store from the log), and the reward join, whose reward id
 * (`event:<eventId>`) is the rewards table's key on every store, so a reward already joined answers
 * `duplicate` and is neither counted nor learned again. The rollout tracker counts only first ingests.
 * Returns how many rewards were joined.
 */
export async function applyEffects(
  parts: EngineParts,
  entries: Pending[],
  retried: readonly UserEvent[],
  /** The event's reward join, or undefined when it is no reward (nothing to wait for). */
  join: (e: UserEvent) => Promise<boolean> | undefined,
): Promise<number> {
  // Held before anything is awaited: a concurrent retry of the batch must find these claimed (see PendingEffects).
  parts.pendingEffects.hold(entries.filter((p) => p.event.decisionId !== undefined));
  await applyFeatures(parts, entries, retried);
  // Started together, so a batch's rewards share one group commit (queue order keeps their order). Events
  // that are no reward (`join` answers undefined: most of a batch) are done at once, without a promise each.
  const joining: Promise<boolean>[] = [];
  const joiningEntries: (Pending | undefined)[] = [];
  for (const e of retried) {
    const joined = join(e);
    if (joined !== undefined) {
      joining.push(joined);
      joiningEntries.push(undefined);
    }
  }
  for (const p of entries) {
    const joined = join(p.event);
    if (joined === undefined) parts.pendingEffects.done(p);
    else {
      joining.push(joined);
      joiningEntries.push(p);
    }
  }
  const joined = joining.length === 0 ? [] : await Promise.allSettled(joining);
  let rewardsJoined = 0;
  let failure: unknown;
  joined.forEach((outcome, i) => {
    if (outcome.status === "rejected") failure ??= outcome.reason;
    else {
      if (outcome.value) rewardsJoined++;
      const entry = joiningEntries[i];
      if (entry) parts.pendingEffects.done(entry);
    }
  });
  if (failure !== undefined) {
    parts.pendingEffects.release(entries);
    throw unavailable(parts, failure, "the reward join");
  }
  return rewardsJoined;
}

/**
 * `applyEffects` for the common batch: every event new to the log, and none answers a decision (no reward
 * to join, nothing held). The same effects in the same order, without a `Pending` entry per event: one is
 * made only if the feature store fails, for a retry to complete them (an allocation and two passes per event
 * on every batch, for a path taken on a failure; issue 12).
 */
export async function applyFreshEffects(parts: EngineParts, inserted: readonly UserEvent[]): Promise<void> {
  if (parts.features) {
    try {
      await parts.features.apply(inserted);
    } catch (error) {
      parts.pendingEffects.release(parts.pendingEffects.fresh(inserted));
      throw unavailable(parts, error, "the feature store");
    }
  }
  const rollouts = parts.rollouts;
  if (rollouts) for (const e of inserted) rollouts.onEvent(e);
}

/** The feature updates still missing: entries not yet applied, and retried events for a store that dedupes. */
async function applyFeatures(parts: EngineParts, entries: Pending[], retried: readonly UserEvent[]): Promise<void> {
  const pendingFeatures = entries.filter((p) => !p.featuresApplied);
  const again = parts.features?.appliesOnce ? retried : [];
  if (pendingFeatures.length === 0 && again.length === 0) return;
  try {
    if (parts.features) await parts.features.apply([...again, ...pendingFeatures.map((p) => p.event)]);
  } catch (error) {
    parts.pendingEffects.release(entries);
    throw unavailable(parts, error, "the feature store");
  }
  for (const p of pendingFeatures) {
    p.featuresApplied = true;
    parts.rollouts?.onEvent(p.event);
  }
}

function unavailable(parts: EngineParts, error: unknown, what: string): LoopwiseError {
  parts.logger.error({ err: error }, `ingest: ${what} failed after the events were stored`);
  return new LoopwiseError(
    "UNAVAILABLE",
    `the events are stored but ${what} failed; retry the same batch to complete them (retries are idempotent)`,
  );
}
