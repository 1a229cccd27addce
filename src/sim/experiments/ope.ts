import type { Policy, PolicyFeedback, PolicyInput } from "../../bandit/policy.js";
import { rngFor } from "../../core/rng.js";
import type { FeatureMap } from "../../core/types.js";
import type { DecisionRecord, DecisionWithRewards, StoredReward } from "../../decisions/decision-record.js";
import type { DecisionStore } from "../../decisions/decision-store.js";
import type { SimItem } from "../world/catalog.js";
import { drawVisitor } from "../world/population.js";
import type { ScenarioInput } from "../world/scenario.js";
import { resolveScenario } from "../world/scenarios.js";
import { randomCandidates } from "../world/traffic.js";
import { popularityScores } from "../world/truth.js";
import { type SimContext, World } from "../world/world.js";
import { WorldPolicy } from "../world/world-policies.js";

export interface OpeExperimentOptions {
  scenario?: string | ScenarioInput;
  seed?: number;
  /** Logged decisions (default 5,000). */
  rounds?: number;
  /** Candidates per decision (default 10). */
  candidates?: number;
  /** Slots per decision (default 1: the truth is then each target's exact policy value). */
  slots?: number;
  /** The logging policy (default: softmax over the true logits, temperature 1, 10% uniform). */
  logging?: (world: World) => Policy;
  /** Target policies by name (default: oracle, popularity, uniform, sharper softmax). */
  targets?: (world: World) => Record<string, Policy>;
  /**
   * Learning targets by name (fresh policies): each keeps learning along the log as OPE's `learn:` targets
   * do (ope/targets.ts learningTarget): its distributions for a decision come before that decision's logged
   * outcomes update it. Their truth is the exact value of that sequence of distributions.
   */
  learners?: (world: World) => Record<string, Policy>;
}

export interface OpeExperimentResult {
  world: World;
  logs: DecisionWithRewards[];
  logging: Policy;
  targets: Record<string, Policy>;
  /**
   * Per target, the estimand of per-slot OPE computed exactly: the mean over logged slot-rounds of
   * Σ_a π_e(a | x, logged earlier slots) · P(click | a at that position). With one slot this is the
   * target's true value (expected clicks per decision).
   */
  truth: Record<string, number>;
  /** The same for each learner, along its learning trajectory. */
  learnerTruth: Record<string, number>;
  /** The same for the logging policy, and the realized mean reward of the log (the on-policy estimate). */
  loggingTruth: number;
  onPolicy: number;
  slotRounds: number;
}

const T0 = Date.UTC(2026, 0, 5);
const STEP_MS = 10_000;

/** Default policies: the experiment's logging policy has full support, so every estimator applies. */
export function defaultOpePolicies(world: World): { logging: Policy; targets: Record<string, Policy> } {
  const popularity = popularityScores(world, 1000);
  return {
    logging: new WorldPolicy("logging-softmax", world, "softmax", { temperature: 1, epsilon: 0.1 }),
    targets: {
      oracle: new WorldPolicy("oracle", world, "oracle"),
      popularity: new WorldPolicy("popularity", world, "popularity", { popularity }),
      uniform: new WorldPolicy("uniform", world, "uniform"),
      "softmax-0.5": new WorldPolicy("softmax-0.5", world, "softmax", { temperature: 0.5, epsilon: 0.05 }),
    },
  };
}

/**
 * Logs of a logging policy in the simulated shop, in the decision log's own format (DecisionWithRewards,
 * click = reward 1 on its slot), with the exact values of target policies on the same visits. Seeded.
 */
export function opeExperiment(o: OpeExperimentOptions = {}): OpeExperimentResult {
  const world = new World(resolveScenario(o.scenario ?? "default", o.seed !== undefined ? { seed: o.seed } : {}));
  const defaults = o.logging && o.targets ? undefined : defaultOpePolicies(world);
  const logging = o.logging?.(world) ?? (defaults as { logging: Policy }).logging;
  const targets = o.targets?.(world) ?? (defaults as { targets: Record<string, Policy> }).targets;
  const rounds = o.rounds ?? 5000;
  const slots = o.slots ?? 1;
  const rng = rngFor("sim-ope", String(world.scenario.seed));
  const logs: DecisionWithRewards[] = [];
  const truth: Record<string, number> = Object.fromEntries(Object.keys(targets).map((k) => [k, 0]));
  const learners = o.learners?.(world) ?? {};
  const learnerTruth: Record<string, number> = Object.fromEntries(Object.keys(learners).map((k) => [k, 0]));
  let loggingTruth = 0;
  let rewardSum = 0;
  let slotRounds = 0;
  for (let r = 0; r < rounds; r++) {
    const t = T0 + r * STEP_MS;
    const hour = Math.floor(rng.next() * 24);
    const user = drawVisitor(world.population, hour, world.scenario.users.hourConcentration, rng);
    const ctx: SimContext = { ...world.contextFor(user, t, rng), hour };
    const items = randomCandidates(world, o.candidates ?? 10, rng);
    const input: PolicyInput = {
      context: opeContext(world, user.id, ctx),
      candidates: items.map((i) => ({ id: i.id, features: world.itemFeatures(i) })),
    };
    const choices = logging.rank(input, slots, rngFor("explore", `ope-${r}`));
    const decision = decisionOf(`ope-${world.scenario.seed}-${r}`, t, user.id, input, choices, logging);
    const rewards: StoredReward[] = [];
    const outcomes: PolicyFeedback[] = [];
    choices.forEach((c, k) => {
      const placed = choices.slice(0, k).map((p) => p.index);
      const clickOf = (a: number) => world.clickProbability(user, ctx, items[a] as SimItem, k);
      loggingTruth += expectation(logging.distribution(input, placed), clickOf);
      for (const [name, policy] of Object.entries(targets)) {
        truth[name] = (truth[name] as number) + expectation(policy.distribution(input, placed), clickOf);
      }
      for (const [name, policy] of Object.entries(learners)) {
        learnerTruth[name] = (learnerTruth[name] as number) + expectation(policy.distribution(input, placed), clickOf);
      }
      slotRounds++;
      const clicked = rng.next() < clickOf(c.index);
      if (clicked) {
        rewardSum++;
        rewards.push(clickReward(decision, c.index, t + 5_000));
      }
      const feedback = { index: c.index, position: c.position, propensity: c.propensity, placedBefore: placed };
      outcomes.push({ input, reward: clicked ? 1 : 0, ...feedback });
    });
    // After every slot's distribution: what the decision's outcomes teach the learners.
    for (const policy of Object.values(learners)) for (const f of outcomes) policy.update(f);
    logs.push({ decision, rewards });
  }
  for (const k of Object.keys(truth)) truth[k] = (truth[k] as number) / slotRounds;
  for (const k of Object.keys(learnerTruth)) learnerTruth[k] = (learnerTruth[k] as number) / slotRounds;
  return {
    world,
    logs,
    logging,
    targets,
    truth,
    learnerTruth,
    loggingTruth: loggingTruth / slotRounds,
    onPolicy: rewardSum / slotRounds,
    slotRounds,
  };
}

/** The context OPE logs carry: the request context plus what world policies need to find the visit. */
function opeContext(world: World, userId: string, ctx: SimContext): FeatureMap {
  return { ...world.requestContext(ctx), user_id: userId, hour: ctx.hour, sim_time: ctx.time };
}

function expectation(dist: Float64Array, value: (a: number) => number): number {
  let sum = 0;
  for (let a = 0; a < dist.length; a++) if ((dist[a] as number) > 0) sum += (dist[a] as number) * value(a);
  return sum;
}

function decisionOf(
  decisionId: string,
  t: number,
  userId: string,
  input: PolicyInput,
  choices: ReturnType<Policy["rank"]>,
  policy: Policy,
): DecisionRecord {
  return {
    decisionId,
    timestamp: t,
    userId,
    context: input.context,
    features: {},
    candidates: input.candidates.map((c) => ({ id: c.id, ...(c.features ? { features: c.features } : {}) })),
    slots: choices.map((c) => ({
      position: c.position,
      itemId: (input.candidates[c.index] as { id: string }).id,
      index: c.index,
      propensity: c.propensity,
      probabilities: Array.from(c.probabilities),
    })),
    policy: { id: policy.id, type: policy.type, version: policy.version },
    baselineItemId: input.candidates[0]?.id ?? null,
    activated: true,
    candidateSource: "request",
    fallbacks: [],
  };
}

function clickReward(decision: DecisionRecord, index: number, at: number): StoredReward {
  const itemId = decision.candidates[index]?.id as string;
  return {
    rewardId: `${decision.decisionId}-${itemId}`,
    decisionId: decision.decisionId,
    value: 1,
    itemId,
    type: "click",
    timestamp: at,
    receivedAt: at,
    source: "event",
    late: false,
    ignored: false,
  };
}

/** Writes the logs into a decision store (e.g. for `loopwise evaluate --logs loopwise:`). */
export async function storeOpeLogs(
  store: DecisionStore,
  logs: readonly DecisionWithRewards[],
  windowMs = 600_000,
): Promise<void> {
  for (const { decision, rewards } of logs) {
    await store.append(decision);
    for (const { late: _late, ignored: _ignored, ...reward } of rewards) await store.addReward(reward, windowMs);
  }
}
