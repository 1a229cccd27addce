import { type ModelFamily, type TrainInput, type TrainOptions, trainFamily } from "./model-family.js";
import type { SessionModel, SessionScorer } from "./session-model.js";

/**
 * POP (PROTOCOL.md): score = train click count, whatever the session. The floor every model must beat and
 * the fallback of all of them. Dense: it touches every item, fine for a baseline.
 */
export const popularityFamily: ModelFamily = {
  family: "pop",
  defaults: {},
  scorer: (data) => popularityScorer(data.itemClicks),
  restore: (_params, _arrays, vocab) => popularityScorer(vocab.itemClicks),
};

function popularityScorer(itemClicks: Int32Array): SessionScorer {
  return {
    family: "pop",
    params: {},
    scoreInto(_session, buf) {
      for (let i = 0; i < itemClicks.length; i++) buf.set(i, itemClicks[i]!);
    },
    arrays: () => ({}),
  };
}

export function trainPopularity(input: TrainInput, options?: TrainOptions): SessionModel {
  return trainFamily(popularityFamily, input, options);
}
