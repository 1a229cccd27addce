import { z } from "zod";
import { toIso } from "../core/clock.js";
import { compileSchema } from "../core/compiled-schema.js";
import { LoopwiseError, validationError } from "../core/errors.js";
import { murmur3 } from "../core/hash.js";
import type { RewardOutcome, RewardRecord } from "../decisions/decision-record.js";
import {
  idSchema,
  itemIdSchema,
  outsideWindow,
  timeSchema,
  valueSchema,
  withParsedTimestamp,
} from "../events/event-schema.js";
import type { EngineParts } from "./engine-parts.js";
import type { ArrivedReward } from "./learning.js";

/**
 * What the reward and activate use-cases answer (their ports), plain data. The wire schemas are
 * server/api-types.ts; server/api-types.test.ts checks at compile time that they agree.
 */
export interface RewardResult {
  decisionId: string;
  rewardId: string;
  status: RewardOutcome;
}

export interface ActivateResult {
  decisionId: string;
  activated: true;
}

export const rewardRequestSchema = z.strictObject({
  value: valueSchema,
  itemId: itemIdSchema.optional(),
  type: z.string().min(1).max(64).optional(),
  rewardId: idSchema.optional(),
  timestamp: timeSchema.optional(),
});

export const compiledRewardRequest = compileSchema(rewardRequestSchema, {
  finish: (input) => withParsedTimestamp(input) as z.output<typeof rewardRequestSchema> | undefined,
});

/** `POST /v1/decisions/{id}/reward`. */
export async function reward(parts: EngineParts, decisionId: string, body: unknown): Promise<RewardResult> {
  const req = compiledRewardRequest.parse(body);
  const now = parts.clock.now();
  const timestamp = req.timestamp ?? now;
  const type = req.type ?? "reward";
  const rewardId = req.rewardId ?? contentRewardId([decisionId, req.itemId, type, req.value, req.timestamp]);
  const record: RewardRecord = { rewardId, decisionId, value: req.value, type, timestamp, source: "api" };
  if (req.timestamp !== undefined || req.itemId !== undefined) {
    const decision = await shownBy(parts, decisionId);
    if (req.timestamp !== undefined) checkRewardTime(parts, req.timestamp, decision.timestamp, now);
    if (req.itemId !== undefined) {
      requireShown(decision.items, decisionId, req.itemId);
      record.itemId = req.itemId;
    }
  }
  const outcome = await recordReward(parts, record);
  if (outcome === undefined) throw new LoopwiseError("DECISION_NOT_FOUND", `decision "${decisionId}" does not exist`);
  return { decisionId, rewardId, status: outcome };
}

/** What a decision showed and when: from memory inside its window, else (late rewards) from the log. */
async function shownBy(parts: EngineParts, decisionId: string): Promise<{ items: string[]; timestamp: number }> {
  const pending = parts.learning.pendingShown(decisionId);
  if (pending) return pending;
  const decision = (await parts.decisions.get(decisionId))?.decision;
  if (!decision) throw new LoopwiseError("DECISION_NOT_FOUND", `decision "${decisionId}" does not exist`);
  return { items: decision.slots.map((s) => s.itemId), timestamp: decision.timestamp };
}

/**
 * A reward's client time must be plausible: not before its decision, not more than `rewards.maxPast` before or
 * `rewards.maxFuture` after the server's now (a wrong clock or a mixed-up id). It does not decide lateness:
 * the server's arrival time does (decisions/reward-reducer.ts).
 */
function checkRewardTime(parts: EngineParts, timestamp: number, decidedAt: number, now: number): void {
  const { maxPast, maxFuture } = parts.config.rewards;
  const outside = outsideWindow(timestamp, { now, maxPastMs: maxPast, maxFutureMs: maxFuture });
  const message =
    outside ?? (timestamp < decidedAt ? `is before the decision was made (${toIso(decidedAt)})` : undefined);
  if (message) throw validationError([{ path: "timestamp", message }]);
}

/** A reward naming an item must name one the decision showed: anything else could never be joined. */
function requireShown(shown: string[], decisionId: string, itemId: string): void {
  if (!shown.includes(itemId)) {
    throw new LoopwiseError("VALIDATION_FAILED", `itemId: "${itemId}" was not shown in decision "${decisionId}"`, [
      { path: "itemId", message: `was not shown in this decision; shown: ${shown.join(", ")}` },
    ]);
  }
}

/**
 * Stores a reward and, when it counts, lets the policy learn from it. Undefined: unknown decision.
 * `receivedAt` is stamped here, right before the write is queued, so arrival order is the log's order; the
 * learner holds the decision's window open until the write settles (app/learning.ts `hold`).
 */
export async function recordReward(parts: EngineParts, reward: RewardRecord): Promise<RewardOutcome | undefined> {
  const record: RewardRecord = { ...reward, receivedAt: parts.clock.now() };
  parts.learning.hold(record.decisionId);
  let outcome: RewardOutcome | undefined;
  try {
    outcome = await parts.decisions.addReward(record, parts.config.rewards.window);
  } finally {
    parts.learning.release(record.decisionId, outcome === "accepted" ? (record as ArrivedReward) : undefined);
  }
  parts.emitter.emit("reward", { reward: record, outcome });
  parts.metrics.hot.rewards.child(outcome ?? "unknown_decision", record.source).inc();
  return outcome;
}

/** `POST /v1/decisions/{id}/activate`: a deferred decision was actually shown; its reward window opens now. */
export async function activate(parts: EngineParts, decisionId: string): Promise<ActivateResult> {
  const now = parts.clock.now();
  const found = await parts.decisions.get(decisionId);
  if (!found) throw new LoopwiseError("DECISION_NOT_FOUND", `decision "${decisionId}" does not exist`);
  if (!found.decision.activated) {
    await parts.decisions.activate(decisionId, now);
    parts.learning.track({ ...found.decision, activated: true, activatedAt: now });
  } else {
    // A retried activation writes nothing; it appends again so a consumer that missed it gets it.
    await parts.publisher.activate(decisionId, found.decision.activatedAt ?? found.decision.timestamp);
  }
  return { decisionId, activated: true };
}

/** A reward id derived from content, so a retried reward without an id is still counted once. */
export function contentRewardId(parts: (string | number | undefined)[]): string {
  const key = parts.join("\u0001");
  return `rw_${murmur3(key, 3).toString(36)}${murmur3(key, 4).toString(36)}`;
}
