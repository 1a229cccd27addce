import { type ModelFamily, type TrainInput, type TrainOptions, trainFamily } from "./model-family.js";
import type { SessionModel, SessionScorer } from "./session-model.js";

/**
 * S-POP (PROTOCOL.md): score = occurrences of the item in the session so far; ties, including the unscored
 * items, fall back to popularity through the shared ranking order. Strong on repeat-heavy shops.
 */
export const sessionPopularityFamily: ModelFamily = {
  family: "spop",
  defaults: {},
  scorer: () => sessionPopularityScorer(),
  restore: () => sessionPopularityScorer(),
};

function sessionPopularityScorer(): SessionScorer {
  return {
    family: "spop",
    params: {},
    scoreInto(session, buf) {
      for (const i of session) buf.add(i, 1);
    },
    arrays: () => ({}),
  };
}

export function trainSessionPopularity(input: TrainInput, options?: TrainOptions): SessionModel {
  return trainFamily(sessionPopularityFamily, input, options);
}
