import { DAY, HOUR } from "../../core/clock.js";
import type { Rng } from "../../core/rng.js";
import type { SimItem } from "./catalog.js";
import type { SimUser } from "./population.js";
import { upperBound } from "./population.js";
import type { SimContext, World } from "./world.js";

/**
 * The arrival process: a Poisson process whose rate follows the hour of day (peak in the evening, trough at
 * night: λ(t) = λ̄ · (1 + 0.6 cos(2π(h − 20)/24))), sampled by thinning (Lewis & Shedler 1979): propose at
 * the maximum rate, accept with λ(t)/λmax. `daily: false` is the flat process at λ̄: a real-time run of a few
 * minutes asked for `--rate 5` means 5 a second whatever the hour (at 5 a.m. the daily shape gives 2.9).
 */
export function nextArrival(after: number, perDay: number, rng: Rng, daily = true): number {
  const meanPerMs = perDay / DAY;
  if (!daily) return after + -Math.log(1 - rng.next()) / meanPerMs;
  const maxPerMs = meanPerMs * 1.6;
  let t = after;
  for (;;) {
    t += -Math.log(1 - rng.next()) / maxPerMs;
    if (rng.next() < arrivalShape(t) / 1.6) return t;
  }
}

/** Relative arrival intensity at time t (mean 1 over a day). */
export function arrivalShape(t: number): number {
  const hour = (t % DAY) / HOUR;
  return 1 + 0.6 * Math.cos((2 * Math.PI * (hour - 20)) / 24);
}

/** `count` distinct items drawn uniformly from the catalog (what a shop's candidate generator might send). */
export function randomCandidates(world: World, count: number, rng: Rng): SimItem[] {
  const items = world.items;
  const n = Math.min(count, items.length);
  const chosen = new Set<number>();
  const out: SimItem[] = [];
  while (out.length < n) {
    const i = Math.floor(rng.next() * items.length);
    if (chosen.has(i)) continue;
    chosen.add(i);
    out.push(items[i] as SimItem);
  }
  return out;
}

/**
 * Two candidates built for rollout scenarios: a random primary (what `baseline`, the first-candidate policy,
 * shows) and the item whose true attractiveness is closest to (2r − 1) × the primary's. A policy choosing
 * uniformly between them then has a true CTR of r × baseline's for this request (one slot).
 */
export function pairedCandidates(world: World, user: SimUser, ctx: SimContext, ratio: number, rng: Rng): SimItem[] {
  const items = world.items;
  const primaryIndex = Math.floor(rng.next() * items.length);
  const attractiveness = world.attractivenessOfAll(user, ctx);
  const target = (2 * ratio - 1) * (attractiveness[primaryIndex] as number);
  let best = -1;
  let bestGap = Number.POSITIVE_INFINITY;
  for (let i = 0; i < items.length; i++) {
    if (i === primaryIndex) continue;
    const gap = Math.abs((attractiveness[i] as number) - target);
    if (gap < bestGap) {
      bestGap = gap;
      best = i;
    }
  }
  const primary = items[primaryIndex] as SimItem;
  return best >= 0 ? [primary, items[best] as SimItem] : [primary];
}

/**
 * An item the user finds by themselves (search, navigation): drawn by popularity and accepted with its true
 * attractiveness, so organic views reveal the user's tastes to the feature store as real browsing does.
 */
export function organicItem(
  world: World,
  user: SimUser,
  ctx: SimContext,
  cumulativePopularity: Float64Array,
  rng: Rng,
): SimItem {
  let item = world.items[0] as SimItem;
  for (let attempt = 0; attempt < 200; attempt++) {
    item = world.items[upperBound(cumulativePopularity, rng.next())] as SimItem;
    if (rng.next() < world.attractiveness(user, ctx, item)) return item;
  }
  return item;
}

export function cumulativePopularity(world: World): Float64Array {
  const out = new Float64Array(world.items.length);
  let acc = 0;
  world.items.forEach((item, i) => {
    acc += item.popularity;
    out[i] = acc;
  });
  out[out.length - 1] = Number.POSITIVE_INFINITY;
  return out;
}

/** Exponential delay with the given mean, in ms. */
export function exponentialDelay(meanSeconds: number, rng: Rng): number {
  return Math.round(-Math.log(1 - rng.next()) * meanSeconds * 1000);
}
