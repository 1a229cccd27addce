import { toIso } from "../core/clock.js";
import type { FeatureMap } from "../core/types.js";
import type { DecisionWithRewards } from "./decision-record.js";
import type { JoinConfig } from "./join-config.js";
import { joinRewards } from "./reward-join.js";

/**
 * The decision log as DSJSON (Vowpal Wabbit's decision-service JSON, the format Personalizer exported), one
 * contextual-bandit event a line: for VW-based tools (`vw --cb_explore_adf --dsjson`, Personalizer's evaluation
 * notebooks) and for `loopwise evaluate --logs dsjson:` / `loopwise import` elsewhere. Each shown slot is one
 * event, as Personalizer logged one event per rank:
 * - `EventId`: the decision id; a decision that showed several slots gives `<decisionId>:<position>` per slot.
 * - `c`: the request's context features, the user's feature-store aggregates under the `profile` namespace, and
 *   `_multi`: the slot's candidates (the decision's, minus those placed in earlier slots), each `{id, ...features}`,
 *   with the recommender's score as `recommender.score` when it had one.
 * - `a`/`p`: 1-based indices into `_multi`, the shown one first and then the others by probability, with the
 *   probability each had for this slot (the logged distribution); `_label_Action`, `_labelIndex`,
 *   `_label_probability`: the shown one and its propensity.
 * - `_label_cost`: minus the joined reward (Personalizer's convention), when the slot's reward is joined or
 *   defaulted; a slot still in its window has no label, and a deferred decision never activated is
 *   `_skipLearn: true` (readers skip both, as they did Personalizer's).
 * - `VWState.m`: the policy that chose, `<id>@<version>`.
 */
export function dsjsonLines(entry: DecisionWithRewards, join: JoinConfig, now: number): string[] {
  const d = entry.decision;
  const joined = joinRewards(entry, join, now);
  const shared: Record<string, unknown> = { ...d.context };
  if (Object.keys(d.features).length > 0) shared.profile = d.features;
  const placed = new Set<number>();
  return d.slots.map((slot, k) => {
    const members = d.candidates.flatMap((_, j) => (placed.has(j) ? [] : [j]));
    placed.add(slot.index);
    const multi = members.map((j) => {
      const c = d.candidates[j] as DecisionWithRewards["decision"]["candidates"][number];
      const features: FeatureMap = { ...c.features };
      if (c.score !== undefined) features["recommender.score"] = c.score;
      return { ...features, id: c.id };
    });
    const chosen = members.indexOf(slot.index);
    const order = members
      .map((j, m) => ({ m, p: slot.probabilities[j] as number }))
      .sort((x, y) => (x.m === chosen ? -1 : y.m === chosen ? 1 : y.p - x.p || x.m - y.m));
    const outcome = joined.slots[k];
    const labelled = outcome?.reward !== undefined && (outcome.status === "joined" || outcome.status === "defaulted");
    const event: Record<string, unknown> = {};
    if (labelled) {
      event._label_cost = 0 - (outcome.reward as number); // 0 - x: a reward of 0 is a cost of +0
      event._label_probability = slot.propensity;
      event._label_Action = chosen + 1;
      event._labelIndex = chosen;
    }
    if (!d.activated) event._skipLearn = true;
    Object.assign(event, {
      Timestamp: toIso(d.timestamp),
      Version: "1",
      EventId: d.slots.length === 1 ? d.decisionId : `${d.decisionId}:${slot.position}`,
      a: order.map((o) => o.m + 1),
      c: { ...shared, _multi: multi },
      p: order.map((o) => o.p),
      VWState: { m: `${d.policy.id}@${d.policy.version}` },
    });
    return JSON.stringify(event);
  });
}
