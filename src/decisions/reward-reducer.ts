import type { LoggedSlot, RewardRecord, StoredReward } from "./decision-record.js";
import type { JoinConfig } from "./join-config.js";

/**
 * The reward join, as one pure reducer: the state of one decision's reward window and the entries that
 * change it (activate → `openWindow`, a reward → `applyReward`, time passes → `closeWindow`), giving slot
 * outcomes and "learn this" effects. The online learner (app/learning.ts) feeds it entries as they arrive;
 * the log's join (reward-join.ts `joinRewards`, join-facts.ts `joinFacts`) replays the stored rewards through
 * the same rules, and the stores classify each reward at arrival with `classifyReward` below. So learning,
 * export, OPE, rollout statistics and the dashboard agree on one definition:
 *
 * - **Server time decides.** A reward's window position is judged on `receivedAt`, the server's clock when the
 *   reward arrived; the client's `timestamp` is kept as a field (and validated at the API: not before the
 *   decision, not more than `rewards.maxPast` before or `rewards.maxFuture` after the server's now).
 * - **The window** opens at activation (the decision's time unless activation was deferred) and covers
 *   [activatedAt, activatedAt + windowMs). A reward received at or after its end is late: stored, flagged,
 *   and never counted by anyone. A reward for a decision not yet active is stored as ignored, never counted.
 * - **Order is arrival order**: `receivedAt`, ties in log order. `earliest` is the first counted reward to
 *   arrive (what online learning can know when it learns at once), learned immediately.
 * - `sum` adds the slot's counted rewards and is learned when the window closes (only then is it known).
 * - A slot without a counted reward when the window closes learns the default reward.
 * - **Duplicates** (a `rewardId` already counted) count once; the stores also refuse them globally.
 * - A reward names its slot by `itemId`; without one it is about the slot at position 0.
 *
 * Every slot is learned exactly once: at its first reward (`earliest`) or at close. The learner never closes a
 * window while a reward received inside it is still being written (app/learning.ts `hold`), which is what
 * makes "close" a watermark: every counted reward is applied before it, online as in the log.
 */
export interface SlotState {
  readonly itemId: string;
  readonly position: number;
  /** Counted rewards so far. */
  count: number;
  /** `earliest`: the first counted reward's value; `sum`: the running total. */
  value: number;
  /** Whether this slot's learn effect was emitted. */
  learned: boolean;
}

export interface WindowState {
  /** End of the window (exclusive), on the server's clock; +Infinity while the decision is not active. */
  closesAt: number;
  /** False while a deferred decision waits for `activate`: its rewards are ignored (never counted). */
  active: boolean;
  closed: boolean;
  readonly slots: SlotState[];
  /** Ids of the rewards seen so far, counted or not (a duplicate id never counts). */
  readonly rewardIds: string[];
}

/** "Learn this": slot `slot` (an index into the decision's slots) has its final reward `reward`. */
export interface LearnEffect {
  slot: number;
  reward: number;
  /** True when a counted reward gave the value; false for the default reward. */
  joined: boolean;
}

export type RewardVerdict = "counted" | "late" | "duplicate" | "unknown_item" | "not_activated";

/** A decision's state when it is logged: its window open from `activatedAt`, or not yet (deferred: undefined). */
export function openWindow(
  slots: readonly Pick<LoggedSlot, "itemId" | "position">[],
  activatedAt: number | undefined,
  config: Pick<JoinConfig, "windowMs">,
): WindowState {
  return {
    closesAt: activatedAt === undefined ? Number.POSITIVE_INFINITY : activatedAt + config.windowMs,
    active: activatedAt !== undefined,
    closed: false,
    slots: slots.map((s) => ({ itemId: s.itemId, position: s.position, count: 0, value: 0, learned: false })),
    rewardIds: [],
  };
}

/** A deferred decision was shown at `at`: its window opens now (a second activation changes nothing). */
export function activateWindow(state: WindowState, at: number, config: Pick<JoinConfig, "windowMs">): void {
  if (state.active) return;
  state.active = true;
  state.closesAt = at + config.windowMs;
}

/** The slot index a reward is about: by item id, else the slot at position 0; -1 when none matches. */
export function slotOfReward(slots: readonly Pick<LoggedSlot, "itemId" | "position">[], itemId?: string): number {
  return itemId === undefined ? slots.findIndex((s) => s.position === 0) : slots.findIndex((s) => s.itemId === itemId);
}

/**
 * Applies one reward (in arrival order); a counted one under `earliest` is learned at once. `judgedAtArrival`:
 * the log's replay of rewards a store already classified as in-window (their flag is the record, also if the
 * configured window changed since).
 */
export function applyReward(
  state: WindowState,
  reward: Pick<StoredReward, "rewardId" | "itemId" | "value" | "receivedAt">,
  config: Pick<JoinConfig, "aggregation">,
  judgedAtArrival = false,
): { verdict: RewardVerdict; effects: LearnEffect[] } {
  // Duplicates first, as the stores refuse them before classifying: a retried id never counts, whatever its copy.
  if (state.rewardIds.includes(reward.rewardId)) return { verdict: "duplicate", effects: [] };
  state.rewardIds.push(reward.rewardId);
  if (!state.active) return { verdict: "not_activated", effects: [] };
  if (state.closed || (!judgedAtArrival && reward.receivedAt >= state.closesAt))
    return { verdict: "late", effects: [] };
  const index = slotOfReward(state.slots, reward.itemId);
  const slot = state.slots[index];
  if (!slot) return { verdict: "unknown_item", effects: [] };
  slot.count++;
  if (config.aggregation === "sum") {
    slot.value += reward.value;
    return { verdict: "counted", effects: [] };
  }
  if (slot.count > 1) return { verdict: "counted", effects: [] };
  slot.value = reward.value;
  slot.learned = true;
  return { verdict: "counted", effects: [{ slot: index, reward: reward.value, joined: true }] };
}

/**
 * Time passes to `now`: once the window has ended, every slot not learned yet learns its final value (the sum,
 * or the default reward when nothing counted). `force` closes it before its end (the learner's memory cap).
 */
export function closeWindow(state: WindowState, now: number, config: JoinConfig, force = false): LearnEffect[] {
  if (state.closed || !state.active || (!force && now < state.closesAt)) return [];
  state.closed = true;
  const effects: LearnEffect[] = [];
  state.slots.forEach((slot, index) => {
    if (slot.learned) return;
    slot.learned = true;
    const joined = slot.count > 0;
    effects.push({ slot: index, reward: joined ? slot.value : config.defaultReward, joined });
  });
  return effects;
}

/** The server arrival time of a reward: imported and historical rewards arrive as they happened. */
export function arrivalOf(reward: Pick<RewardRecord, "timestamp" | "receivedAt">): number {
  return reward.receivedAt ?? reward.timestamp;
}

/**
 * Classifies a reward at arrival, on the server's clock (`receivedAt`): ignored when the decision is not
 * active, late when it arrived at or after the window's end. Every store calls this (with the decision as it
 * is when the reward is written) so all adapters flag rewards the same way.
 */
export function classifyReward(
  decision: { activated: boolean; activatedAt?: number; timestamp: number },
  receivedAt: number,
  windowMs: number,
): { late: boolean; ignored: boolean } {
  if (!decision.activated) return { late: false, ignored: true };
  const start = decision.activatedAt ?? decision.timestamp;
  return { late: receivedAt >= start + windowMs, ignored: false };
}

/** The stored form of a reward: its arrival time and the flags `classifyReward` gives (one helper for all stores). */
export function storedReward(
  reward: RewardRecord,
  decision: { activated: boolean; activatedAt?: number; timestamp: number },
  windowMs: number,
): StoredReward {
  const receivedAt = arrivalOf(reward);
  return { ...reward, receivedAt, ...classifyReward(decision, receivedAt, windowMs) };
}

/** Arrival order: `receivedAt`, ties kept in log order (use with a stable sort over log-ordered rewards). */
export function byArrival(a: Pick<StoredReward, "receivedAt">, b: Pick<StoredReward, "receivedAt">): number {
  return a.receivedAt - b.receivedAt;
}
