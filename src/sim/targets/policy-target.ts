import type { Policy, PolicyInput, SlotChoice } from "../../bandit/policy.js";
import type { Clock } from "../../core/clock.js";
import { rngFor } from "../../core/rng.js";
import type { IngestResponse, RankResponse, RewardResponse, UpsertItemsResponse } from "../../server/api-types.js";
import { type SimTarget, TargetError } from "../target.js";

interface Pending {
  input: PolicyInput;
  choices: SlotChoice[];
  closesAt: number;
  learned: boolean[];
}

/**
 * A target that is one policy and nothing else: rank calls `policy.rank` with the request's context and
 * candidates; a click with a decisionId updates the clicked slot with reward 1 at once; when the join window
 * closes (on `tick`) every other slot updates with reward 0. These are the engine's join semantics
 * (`earliest`, default reward 0; src/app/learning.ts) without features, recommender or storage, so an
 * experiment can tell the policy's learning apart from the rest of the loop.
 */
export function createPolicyTarget(policy: Policy, clock: Clock, windowMs = 10 * 60_000): SimTarget {
  const pending = new Map<string, Pending>();
  let counter = 0;

  const update = (p: Pending, slot: number, reward: number) => {
    const choice = p.choices[slot] as SlotChoice;
    p.learned[slot] = true;
    policy.update({
      input: p.input,
      index: choice.index,
      position: choice.position,
      reward,
      propensity: choice.propensity,
      placedBefore: p.choices.slice(0, slot).map((c) => c.index),
    });
  };

  return {
    kind: "fake",
    async upsertItems(body): Promise<UpsertItemsResponse> {
      return { accepted: body.items.length, rejected: 0, results: [] };
    },
    async ingestEvents(body): Promise<IngestResponse> {
      let joined = 0;
      for (const e of body.events) {
        if (e.type !== "click" || !e.decisionId) continue;
        const p = pending.get(e.decisionId);
        if (!p) continue;
        const slot = p.choices.findIndex((c) => p.input.candidates[c.index]?.id === e.itemId);
        if (slot < 0 || p.learned[slot]) continue;
        update(p, slot, 1);
        joined++;
      }
      return { accepted: body.events.length, duplicates: 0, rejected: 0, rewardsJoined: joined, results: [] };
    },
    async rank(body): Promise<RankResponse> {
      if (!body.candidates || body.candidates.length === 0)
        throw new TargetError(422, "NO_CANDIDATES", "send candidates");
      const decisionId = body.decisionId ?? `pt-${counter++}`;
      const input: PolicyInput = { context: body.context ?? {}, candidates: body.candidates };
      const slots = Math.min(body.slots ?? 10, input.candidates.length);
      const choices = policy.rank(input, slots, rngFor("explore", decisionId));
      pending.set(decisionId, { input, choices, closesAt: clock.now() + windowMs, learned: choices.map(() => false) });
      return {
        decisionId,
        policy: { id: policy.id, type: policy.type, version: policy.version },
        ranking: choices.map((c) => ({
          id: (input.candidates[c.index] as { id: string }).id,
          position: c.position,
          probability: c.propensity,
        })),
        candidateSource: "request",
        fallbacks: [],
        activated: true,
      };
    },
    async reward(decisionId): Promise<RewardResponse> {
      return { decisionId, rewardId: `${decisionId}-r`, status: "accepted" };
    },
    async registerPolicy(body) {
      return { id: body.id ?? policy.id };
    },
    async tick() {
      const now = clock.now();
      for (const [id, p] of pending) {
        if (p.closesAt > now) break; // insertion order is close order
        pending.delete(id);
        p.learned.forEach((done, slot) => {
          if (!done) update(p, slot, 0);
        });
      }
    },
    async close() {
      pending.clear();
    },
  };
}
