import { rngFor } from "../../core/rng.js";
import type { SimItem } from "./catalog.js";
import { drawVisitor, type SimUser } from "./population.js";
import type { SimContext, World } from "./world.js";

/**
 * Exact values of slates and of the reference policies (oracle, popularity, uniform) for one visit.
 * Values are expected clicks on the slate, Σ_k exam(k)·attract(item_k) (position-based model); CTR is that
 * divided by the slots shown (clicks per impression).
 */
export function expectedClicks(world: World, user: SimUser, ctx: SimContext, slate: readonly SimItem[]): number {
  let sum = 0;
  for (let k = 0; k < slate.length; k++) sum += world.clickProbability(user, ctx, slate[k] as SimItem, k);
  return sum;
}

/** The oracle's slate: candidates by true attractiveness, best first (optimal under the PBM by rearrangement). */
export function oracleSlate(
  world: World,
  user: SimUser,
  ctx: SimContext,
  candidates: readonly SimItem[],
  slots: number,
): SimItem[] {
  return topBy(candidates, slots, (item) => world.attractivenessLogit(user, ctx, item));
}

/** The context-only oracle's slate: candidates by World.contextLogit (segment, device, time; not the person). */
export function contextOracleSlate(
  world: World,
  user: SimUser,
  ctx: SimContext,
  candidates: readonly SimItem[],
  slots: number,
): SimItem[] {
  return topBy(candidates, slots, (item) => world.contextLogit(user, ctx, item));
}

/** The `slots` best candidates by `score`, ties to the lower item index (deterministic). */
function topBy(candidates: readonly SimItem[], slots: number, score: (item: SimItem) => number): SimItem[] {
  const scored = candidates.map((item) => ({ item, a: score(item) }));
  scored.sort((x, y) => y.a - x.a || x.item.index - y.item.index);
  return scored.slice(0, slots).map((s) => s.item);
}

/** The popularity slate: candidates by their mean true attractiveness over visitors (see popularityScores). */
export function popularitySlate(scores: Float64Array, candidates: readonly SimItem[], slots: number): SimItem[] {
  return candidates
    .slice()
    .sort((x, y) => (scores[y.index] as number) - (scores[x.index] as number) || x.index - y.index)
    .slice(0, slots);
}

/** Expected clicks of a uniformly random slate: Σ_k exam(k) · mean attractiveness (each slot's item is uniform). */
export function uniformExpectedClicks(
  world: World,
  user: SimUser,
  ctx: SimContext,
  candidates: readonly SimItem[],
  slots: number,
): number {
  let mean = 0;
  for (const item of candidates) mean += world.attractiveness(user, ctx, item);
  mean /= candidates.length;
  let exam = 0;
  for (let k = 0; k < Math.min(slots, candidates.length); k++) exam += world.examination(k);
  return exam * mean;
}

/**
 * Popularity as well as it can be done: each item's mean attractiveness over `visits` seeded visitors drawn
 * like real traffic (activity and hour of day). This is what a click-count popularity ranking converges to,
 * so comparing against it never flatters personalization.
 */
export function popularityScores(world: World, visits = 4000): Float64Array {
  const rng = rngFor("sim-popularity", String(world.scenario.seed));
  const scores = new Float64Array(world.items.length);
  for (let v = 0; v < visits; v++) {
    const hour = Math.floor(rng.next() * 24);
    const user = drawVisitor(world.population, hour, world.scenario.users.hourConcentration, rng);
    const ctx = world.contextFor(user, Date.UTC(2026, 0, 5) + hour * 3_600_000, rng);
    for (const item of world.items) {
      scores[item.index] = (scores[item.index] as number) + world.attractiveness(user, ctx, item) / visits;
    }
  }
  return scores;
}

/** The three reference values for one visit's request, in expected clicks. */
export interface ReferenceValues {
  oracle: number;
  /** The context-only oracle (what segment, device and time of day can explain). */
  context: number;
  popularity: number;
  uniform: number;
}

export function referenceValues(
  world: World,
  popularity: Float64Array,
  user: SimUser,
  ctx: SimContext,
  candidates: readonly SimItem[],
  slots: number,
): ReferenceValues {
  return {
    oracle: expectedClicks(world, user, ctx, oracleSlate(world, user, ctx, candidates, slots)),
    context: expectedClicks(world, user, ctx, contextOracleSlate(world, user, ctx, candidates, slots)),
    popularity: expectedClicks(world, user, ctx, popularitySlate(popularity, candidates, slots)),
    uniform: uniformExpectedClicks(world, user, ctx, candidates, slots),
  };
}
