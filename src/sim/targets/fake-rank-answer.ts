import type { SimRankBody } from "../target.js";

/**
 * What a fake API node answers to POST /v1/rank in the targets' tests: the request's first `slots`
 * candidates in order, each with probability 1, as a baseline policy would serve them.
 */
export function fakeRankAnswer(body: SimRankBody, decisionId: string) {
  return {
    decisionId,
    policy: { id: "p", type: "baseline", version: 1 },
    ranking: (body.candidates ?? [])
      .slice(0, body.slots ?? 1)
      .map((c, position) => ({ id: c.id, position, probability: 1 })),
    candidateSource: "request",
    fallbacks: [],
    activated: true,
  };
}
