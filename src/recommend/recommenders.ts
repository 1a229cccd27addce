import { ownValue } from "../core/own.js";
import { cooccurrenceFamily } from "./cooccurrence.js";
import { itemEmbeddingFamily } from "./item-embedding.js";
import { itemKnnFamily } from "./item-knn.js";
import { type ModelFamily, type TrainInput, type TrainOptions, trainFamily } from "./model-family.js";
import { popularityFamily } from "./popularity.js";
import { sessionKnnFamilies } from "./session-knn.js";
import type { SessionModel } from "./session-model.js";
import { sessionPopularityFamily } from "./session-popularity.js";

export type Trainer = (input: TrainInput, options?: TrainOptions) => SessionModel;

/** Every model family by name (persistence rebuilds a saved model through its family). */
export const modelFamilies: Readonly<Record<string, ModelFamily>> = Object.fromEntries(
  [
    popularityFamily,
    sessionPopularityFamily,
    itemKnnFamily,
    ...sessionKnnFamilies,
    cooccurrenceFamily,
    itemEmbeddingFamily,
  ].map((f) => [f.family, f]),
);

/** Registry: model name -> trainer. */
export const recommenders: Readonly<Record<string, Trainer>> = Object.fromEntries(
  Object.entries(modelFamilies).map(([name, fam]) => [
    name,
    (input: TrainInput, options?: TrainOptions) => trainFamily(fam, input, options),
  ]),
);

/** The default, chosen by measurement on rsc15-100k (eval/sessions.eval.ts). */
export const DEFAULT_RECOMMENDER = "vstan";

export function trainRecommender(name: string, input: TrainInput, options?: TrainOptions): SessionModel {
  const trainer = ownValue(recommenders, name);
  if (!trainer) throw new Error(`unknown model ${name}; known: ${Object.keys(recommenders).join(", ")}`);
  return trainer(input, { name, ...options });
}
