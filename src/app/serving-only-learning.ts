import type { PolicyInput } from "../bandit/policy.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import { type ArrivedReward, LearningLoop } from "./learning.js";

/**
 * An API node's learning loop in scale-out (issue 13): it learns nothing. The learner duty consumes the decision
 * stream under its lease and publishes the policy back as snapshots (app/policy-follower.ts); a node that also
 * learned from the rewards it happened to receive would change the served policy between snapshots, and its
 * logged propensities would no longer replay against the published version. Reward lookups then go to the
 * shared log (app/reward.ts finds the decision there when no window is open here).
 */
export class ServingOnlyLearning extends LearningLoop {
  override track(_record: DecisionRecord, _input?: PolicyInput): void {}
  override hold(_decisionId: string): void {}
  override release(_decisionId: string, _accepted?: ArrivedReward): void {}
  override onReward(_decisionId: string, _reward: ArrivedReward): void {}
}
