import { LoopwiseError } from "../../core/errors.js";
import { ownValue } from "../../core/own.js";
import { regressionModel } from "./regression.js";
import type { RewardModel } from "./reward-model.js";
import { tabularModel } from "./tabular.js";

/**
 * Reward models selectable by name (`--reward-model`):
 * - `tabular` (default): mean reward per (action, position), global mean for empty cells.
 * - `tabular-action`: mean reward per action over all positions.
 * - `ridge`: squared-loss regression on hashed context × action features, 3-fold cross-fitted.
 * - `logistic`: the same with log loss, for 0/1 rewards such as clicks.
 */
export const REWARD_MODELS: Readonly<Record<string, RewardModel>> = Object.freeze({
  tabular: tabularModel(true),
  "tabular-action": tabularModel(false),
  ridge: regressionModel({ loss: "squared" }),
  logistic: regressionModel({ loss: "logistic" }),
});

export const DEFAULT_REWARD_MODEL = "tabular";

export function getRewardModel(name: string): RewardModel {
  const found = ownValue(REWARD_MODELS, name);
  if (!found) {
    throw new LoopwiseError(
      "VALIDATION_FAILED",
      `unknown reward model "${name}"; available: ${Object.keys(REWARD_MODELS).join(", ")}`,
      [{ path: "rewardModel", message: `unknown reward model "${name}"` }],
    );
  }
  return found;
}
