import { normal, type Rng, rngFor } from "../../core/rng.js";
import type { Catalog } from "./catalog.js";
import type { Scenario } from "./scenario.js";

/** A simulated user's latent preferences: never sent to the engine, only used to decide behaviour. */
export interface SimUser {
  id: string;
  index: number;
  segment: number;
  /** Category affinities on the logit scale (segment taste + own deviation). */
  affinity: Float64Array;
  priceSensitivity: number;
  /** Probability a visit is on mobile. */
  mobileProbability: number;
  /** Hour of day (0–24) around which the user's visits concentrate. */
  peakHour: number;
  /** Relative visit frequency (heavy and light users). */
  activity: number;
}

export interface Population {
  users: SimUser[];
  segmentNames: string[];
  /** Segment-level category affinities; the part of taste the engine can learn from context.segment. */
  segmentAffinity: Float64Array[];
  /** Phase of each segment×category weekly drift (used only when clicks.drift > 0). */
  driftPhase: Float64Array[];
  /** Cumulative activity weights for drawing a visitor. */
  cumulativeActivity: Float64Array;
}

export function generatePopulation(scenario: Scenario, catalog: Catalog, rng: Rng): Population {
  const u = scenario.users;
  const categories = catalog.categoryNames.length;
  const segmentNames = Array.from({ length: u.segments }, (_, s) => `seg-${s}`);
  const segmentAffinity = segmentNames.map(() => {
    const a = new Float64Array(categories);
    for (let c = 0; c < categories; c++) a[c] = u.segmentAffinitySd * normal(rng);
    return a;
  });
  const driftPhase = segmentNames.map(() => Float64Array.from({ length: categories }, () => 2 * Math.PI * rng.next()));
  const users: SimUser[] = [];
  const cumulativeActivity = new Float64Array(u.count);
  let acc = 0;
  for (let i = 0; i < u.count; i++) {
    const segment = Math.floor(rng.next() * u.segments);
    const base = segmentAffinity[segment] as Float64Array;
    const affinity = new Float64Array(categories);
    for (let c = 0; c < categories; c++) affinity[c] = (base[c] as number) + u.individualAffinitySd * normal(rng);
    // Activity is log-normal: a few heavy users, many occasional ones (as in real shops).
    const activity = Math.exp(0.8 * normal(rng));
    acc += activity;
    cumulativeActivity[i] = acc;
    users.push({
      id: `user-${i}`,
      index: i,
      segment,
      affinity,
      priceSensitivity: u.priceSensitivityMean + u.priceSensitivitySd * normal(rng),
      mobileProbability: rng.next() < u.mobileShare ? 0.85 : 0.15,
      peakHour: (((20 + 4 * normal(rng)) % 24) + 24) % 24,
      activity,
    });
  }
  return { users, segmentNames, segmentAffinity, driftPhase, cumulativeActivity };
}

/**
 * Draws the visitor of a session starting at `hour`: proportional to activity × a von Mises bump around the
 * user's peak hour, by rejection (accept with exp(κ(cos Δ − 1)) ≤ 1), so no per-hour tables are needed.
 */
export function drawVisitor(pop: Population, hour: number, concentration: number, rng: Rng): SimUser {
  const total = pop.cumulativeActivity[pop.cumulativeActivity.length - 1] as number;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const user = pop.users[upperBound(pop.cumulativeActivity, rng.next() * total)] as SimUser;
    const delta = (2 * Math.PI * (hour - user.peakHour)) / 24;
    if (rng.next() < Math.exp(concentration * (Math.cos(delta) - 1))) return user;
  }
  return pop.users[upperBound(pop.cumulativeActivity, rng.next() * total)] as SimUser;
}

/** First index whose cumulative weight exceeds x. */
export function upperBound(cumulative: Float64Array, x: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((cumulative[mid] as number) > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The fixed idiosyncratic user×item term (how much this user likes this item beyond category, price and
 * popularity), drawn from its own seeded stream so it is the same in every run and never stored.
 */
export function userItemNoise(seed: number, userIndex: number, items: number, sd: number): Float32Array {
  const out = new Float32Array(items);
  if (sd === 0) return out;
  const key = `${seed}:${userIndex}`;
  // The uniforms in one fill (the same stream normal() reads, two per draw): a new visitor's row is the
  // simulator's largest per-session cost. A zero uniform makes normal() draw again, shifting the stream;
  // then (p = 2^-32 per draw) the row is drawn one normal() at a time, so values never depend on the path.
  const uniforms = new Float64Array(2 * items);
  rngFor("sim-user-item", key).fill(uniforms, uniforms.length);
  for (let i = 0; i < items; i++) {
    const u = uniforms[2 * i] as number;
    if (u === 0) return userItemNoiseSlow(key, items, sd);
    out[i] = sd * (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * (uniforms[2 * i + 1] as number)));
  }
  return out;
}

function userItemNoiseSlow(key: string, items: number, sd: number): Float32Array {
  const out = new Float32Array(items);
  const rng = rngFor("sim-user-item", key);
  for (let i = 0; i < items; i++) out[i] = sd * normal(rng);
  return out;
}
