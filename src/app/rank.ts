import { z } from "zod";
import type { Policy, PolicyInput, SlotChoice } from "../bandit/policy.js";
import { createPolicy } from "../bandit/policy-types.js";
import { compileSchema } from "../core/compiled-schema.js";
import { LoopwiseError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { rngFor } from "../core/rng.js";
import type { Candidate, FeatureMap } from "../core/types.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import { featureMapSchema, idSchema, itemIdSchema } from "../events/event-schema.js";
import type { EngineParts } from "./engine-parts.js";
import { type GeneratedCandidates, generateCandidates } from "./rank-candidates.js";

export const rankRequestSchema = z.strictObject({
  userId: idSchema,
  sessionId: idSchema.optional(),
  context: featureMapSchema.optional(),
  candidates: z
    .array(z.strictObject({ id: itemIdSchema, features: featureMapSchema.optional() }))
    .min(1, "must hold at least one candidate when given (omit it to let Loopwise generate candidates)")
    .optional(),
  slots: z.number().int().min(1).max(100).optional(),
  decisionId: idSchema.optional(),
  deferActivation: z.boolean().optional(),
  /** Force a registered policy (experiments); otherwise the rollout arm or the default policy serves. */
  policyId: idSchema.optional(),
  /** Items never to show in this decision (already in the cart, just purchased, ...). */
  exclude: z.array(itemIdSchema).max(10_000).optional(),
});

export type RankRequest = z.infer<typeof rankRequestSchema>;

/** Compiled once (compiled-schema.ts): a valid request costs a few µs; zod words the errors of a bad one. */
export const compiledRankRequest = compileSchema(rankRequestSchema);

/** Served when the configured policy is missing or throws: seeded uniform, so propensities stay exact. */
const fallbackPolicy = createPolicy("fallback-uniform", { type: "uniform" });

/**
 * What rank answers: the use-case's result (its port), plain data. The wire schema that documents and serializes
 * it is server/api-types.ts `rankResponseSchema`; server/api-types.test.ts checks at compile time that the two agree.
 */
export interface RankResult {
  decisionId: string;
  policy: { id: string; type: string; version: number };
  /** Per slot: the item, its 0-based position and the exact (conditional) probability it was chosen with. */
  ranking: { id: string; position: number; probability: number }[];
  candidateSource: DecisionRecord["candidateSource"];
  /** Every fallback used to serve this decision; empty when none was needed. */
  fallbacks: string[];
  activated: boolean;
  rollout?: NonNullable<DecisionRecord["rollout"]>;
  modelVersion?: string;
}

/** The rank use-case: features → candidates → policy → logged decision. Never fails when a fallback can serve. */
export async function rank(parts: EngineParts, body: unknown): Promise<RankResult> {
  return responseOf(await rankDecision(parts, body));
}

/**
 * The policy rank serves a user outside any rollout when the request names none: the registry's current default
 * (the one source of truth: PUT /v1/policies/default changes it), else the configured `rank.defaultPolicy`.
 */
export function defaultPolicyOf(parts: Pick<EngineParts, "policies" | "config">): string {
  return parts.policies.defaultPolicyId ?? parts.config.rank.defaultPolicy;
}

/** `rank`, answering the whole logged decision (the Personalizer routes answer with its full distribution). */
export async function rankDecision(parts: EngineParts, body: unknown): Promise<DecisionRecord> {
  const req = compiledRankRequest.parse(body);
  validateCandidates(req, parts.config.rank.maxCandidates);
  const now = parts.clock.now();
  if (req.decisionId) {
    const existing = await parts.decisions.get(req.decisionId);
    if (existing) {
      // An idempotent retry sees the same decision, and appends it to the stream again (stream-publisher.ts).
      await parts.publisher.decision(existing.decision);
      return existing.decision;
    }
  }
  const decisionId = req.decisionId ?? newId("dec", now);
  const fallbacks: string[] = [];
  const user = await readFeatures(parts, req.userId, now, fallbacks);
  const sessionKey = `${req.userId}\u0001${user.sessionId ?? req.sessionId ?? ""}`;
  const generated = generateCandidates(parts, req, { items: user.sessionItems, key: sessionKey }, fallbacks);
  if (generated.candidates.length === 0) {
    // Sent candidates can only come to none through `exclude`: say so rather than ask for candidates.
    const why = req.candidates
      ? `every candidate is in \`exclude\` (${req.candidates.length} sent): nothing is left to rank`
      : "no candidates: send `candidates`, or add available items with POST /v1/items";
    throw new LoopwiseError("NO_CANDIDATES", why);
  }
  const assignment = req.policyId ? undefined : parts.rollouts?.route(req.userId, now);
  const policyId = req.policyId ?? assignment?.policyId ?? defaultPolicyOf(parts);
  let policy = parts.policies.get(policyId);
  if (!policy && req.policyId)
    throw new LoopwiseError("POLICY_NOT_FOUND", `policy "${req.policyId}" is not registered`);
  if (!policy) {
    fallbacks.push(`policy_missing:${policyId}`);
    policy = fallbackPolicy;
  } else if (parts.policies.isStale(policy.id)) {
    // Scale-out: this node's copy is older than `workers.maxStaleness` (app/policy-follower.ts); it still serves.
    fallbacks.push(`policy_stale:${policy.id}`);
  }
  const input: PolicyInput = {
    context: req.context ?? {},
    profile: user.aggregates,
    candidates: generated.candidates,
  };
  checkFeaturePairs(input);
  const slots = Math.min(req.slots ?? parts.config.rank.defaultSlots, generated.candidates.length);
  let choices: SlotChoice[];
  try {
    choices = policy.rank(input, slots, rngFor("explore", decisionId));
  } catch (error) {
    parts.logger.error({ err: error, policy: policy.id, decisionId }, "policy failed; serving the uniform fallback");
    fallbacks.push(`policy_error:${policy.id}`);
    policy = fallbackPolicy;
    choices = policy.rank(input, slots, rngFor("explore", decisionId));
  }
  const record = decisionRecord(req, decisionId, now, user, input, choices, policy, generated, fallbacks);
  if (assignment) record.rollout = { id: assignment.rolloutId, stage: assignment.stage, arm: assignment.arm };
  // An id made here is new: the log may acknowledge it at its journal write (decision-store.ts `freshId`).
  if (!(await parts.decisions.append(record, { freshId: req.decisionId === undefined }))) {
    // A concurrent call with this decisionId logged first (the insert is atomic): answer with its decision.
    const first = await parts.decisions.get(decisionId);
    if (!first) throw new LoopwiseError("CONFLICT", `decision "${decisionId}" exists but could not be read`);
    await parts.publisher.decision(first.decision);
    return first.decision;
  }
  afterDecision(parts, record, input);
  return record;
}

/**
 * The most shared×candidate feature pairs one rank may make the policy read: Σ over the candidates it ranks of
 * (shared features + 1) × (the candidate's features + 1), the shared features being the request's context and the
 * user's aggregates, a candidate's its request features over its catalog ones. The default policy's interactions
 * read a weight per pair, so this bounds one request's policy CPU (~0.3 s on a 2-core box at the bound) now that
 * a map may hold 4,096 features (a dense embedding): 50 actions of 300 features against a 1,536-feature context
 * make 23M pairs (~0.2 s), while 4,096 × 4,096 × 50 would make 839M (~8 s of a blocked event loop). Counted on the
 * candidates as ranked, so catalog candidates with embeddings are bounded too, before the policy runs.
 */
export const MAX_FEATURE_PAIRS = 2 ** 25;

function checkFeaturePairs(input: PolicyInput): void {
  const shared = countKeys(input.context) + countKeys(input.profile);
  let pairs = 0;
  for (const candidate of input.candidates) pairs += (shared + 1) * (countKeys(candidate.features) + 1);
  if (pairs <= MAX_FEATURE_PAIRS) return;
  const message = `the ${shared} shared features (context and user aggregates) and the candidates' features make ${pairs} feature pairs; at most ${MAX_FEATURE_PAIRS} per request (send fewer candidates, or fewer or smaller features)`;
  throw new LoopwiseError("VALIDATION_FAILED", `candidates: ${message}`, [{ path: "candidates", message }]);
}

function validateCandidates(req: RankRequest, max: number): void {
  if (!req.candidates) return;
  if (req.candidates.length > max) {
    throw new LoopwiseError("VALIDATION_FAILED", `candidates: at most ${max} per request`, [
      { path: "candidates", message: `has ${req.candidates.length} entries; at most ${max} are accepted` },
    ]);
  }
  const seen = new Set<string>();
  for (let i = 0; i < req.candidates.length; i++) {
    const { id } = req.candidates[i] as { id: string };
    // One hash lookup per id (size grows unless it was already there), not `has` then `add`.
    const before = seen.size;
    if (seen.add(id).size === before) {
      throw new LoopwiseError("VALIDATION_FAILED", `candidates[${i}].id: duplicate id "${id}"`, [
        { path: `candidates[${i}].id`, message: `duplicates an earlier candidate id "${id}"` },
      ]);
    }
  }
}

/** Keys of a map, counted without building the array of them (a rank counts ~100). */
function countKeys(map: FeatureMap | undefined): number {
  let n = 0;
  for (const _key in map) n++;
  return n;
}

interface RankFeatures {
  aggregates: FeatureMap;
  sessionItems: string[];
  sessionId?: string;
}

async function readFeatures(
  parts: EngineParts,
  userId: string,
  now: number,
  fallbacks: string[],
): Promise<RankFeatures> {
  if (!parts.features) return { aggregates: {}, sessionItems: [] };
  try {
    return await parts.features.read(userId, now);
  } catch (error) {
    parts.logger.warn({ err: error, userId }, "feature read failed; ranking without features");
    fallbacks.push("features_unavailable");
    return { aggregates: {}, sessionItems: [] };
  }
}

function decisionRecord(
  req: RankRequest,
  decisionId: string,
  now: number,
  user: { aggregates: FeatureMap; sessionId?: string },
  input: PolicyInput,
  choices: SlotChoice[],
  policy: Policy,
  generated: GeneratedCandidates,
  fallbacks: string[],
): DecisionRecord {
  const activated = !req.deferActivation;
  const record: DecisionRecord = {
    decisionId,
    timestamp: now,
    userId: req.userId,
    context: req.context ?? {},
    features: user.aggregates,
    // The same objects the policy saw (built fresh for this request): no copy, and the bandit encoder's
    // per-features-object cache also hits when learning replays this record.
    candidates: [...input.candidates],
    slots: choices.map((c) => ({
      position: c.position,
      itemId: (input.candidates[c.index] as Candidate).id,
      index: c.index,
      propensity: c.propensity,
      // The policy's own array (a fresh one per slot, base-policy.ts): no copy; the log encodes it as it is.
      probabilities: c.probabilities,
    })),
    policy: { id: policy.id, type: policy.type, version: policy.version },
    baselineItemId: input.candidates[0]?.id ?? null,
    activated,
    candidateSource: generated.source,
    fallbacks,
  };
  const sessionId = req.sessionId ?? user.sessionId;
  if (sessionId !== undefined) record.sessionId = sessionId;
  if (activated) record.activatedAt = now;
  if (generated.modelVersion) record.modelVersion = generated.modelVersion;
  return record;
}

function afterDecision(parts: EngineParts, record: DecisionRecord, input: PolicyInput): void {
  parts.emitter.emit("decision", record);
  const { hot } = parts.metrics;
  hot.decisions.child(record.policy.id, record.candidateSource).inc();
  for (const f of record.fallbacks) hot.fallbacks.child(f.split(":")[0] ?? f).inc();
  if (record.activated) parts.learning.track(record, input);
  if (record.rollout) {
    const d = {
      rolloutId: record.rollout.id,
      arm: record.rollout.arm,
      userId: record.userId,
      timestamp: record.timestamp,
      // Clicks naming the decision are then attributed to it exactly, as the rollout duty does from exposures.
      decisionId: record.decisionId,
    };
    parts.rollouts?.onDecision(record.sessionId === undefined ? d : { ...d, sessionId: record.sessionId });
  }
}

export function responseOf(record: DecisionRecord): RankResult {
  const response: RankResult = {
    decisionId: record.decisionId,
    policy: record.policy,
    ranking: record.slots.map((s) => ({ id: s.itemId, position: s.position, probability: s.propensity })),
    candidateSource: record.candidateSource,
    fallbacks: record.fallbacks,
    activated: record.activated,
  };
  if (record.rollout) response.rollout = record.rollout;
  if (record.modelVersion) response.modelVersion = record.modelVersion;
  return response;
}

/** The policy input a logged decision was made with (learning and offline evaluation rebuild it from the log). */
export function policyInputOf(record: DecisionRecord): PolicyInput {
  return { context: record.context, profile: record.features, candidates: record.candidates };
}
