import { DAY, HOUR } from "../../core/clock.js";
import { type Rng, rngFor } from "../../core/rng.js";
import type { FeatureMap } from "../../core/types.js";
import { type Catalog, generateCatalog, type SimItem } from "./catalog.js";
import { generatePopulation, type Population, type SimUser, userItemNoise } from "./population.js";
import type { Scenario } from "./scenario.js";

/** What a request carries about the moment of a visit (sent as `context`, except `time`). */
export interface SimContext {
  device: "mobile" | "desktop";
  /** Hour of day 0–23 (the simulated shop runs on UTC). */
  hour: number;
  weekday: number;
  segment: string;
  /** Epoch ms of the visit: only the world uses it (drift). */
  time: number;
}

const NOISE_CACHE_USERS = 50_000;
const MOBILE_EXTRA_PRICE_SENSITIVITY = 0.3;

/**
 * The ground truth. Clicks follow the position-based model (Richardson et al. 2007; Chuklin, Markov & de Rijke,
 * "Click Models for Web Search", 2015, ch. 3): P(click | item at position k) = exam(k) · attract(user, context,
 * item), with exam(k) = 1 / (k + 1)^η and attract a logistic function of category affinity, price, popularity,
 * hour of day and a fixed user×item term. Every probability is a pure function of its arguments, so any
 * policy's true value is computable exactly.
 */
export class World {
  readonly scenario: Scenario;
  readonly catalog: Catalog;
  readonly population: Population;
  private readonly noise = new Map<number, Float32Array>();
  private readonly exam: Float64Array;

  constructor(scenario: Scenario) {
    this.scenario = scenario;
    const rng = rngFor("sim-world", String(scenario.seed));
    this.catalog = generateCatalog(scenario, rng);
    this.population = generatePopulation(scenario, this.catalog, rng);
    this.exam = Float64Array.from({ length: 64 }, (_, k) => 1 / (k + 1) ** scenario.clicks.positionDecay);
  }

  get items(): SimItem[] {
    return this.catalog.items;
  }

  get users(): SimUser[] {
    return this.population.users;
  }

  /** Probability that a user looks at position k at all (0-based). */
  examination(position: number): number {
    return this.exam[position] ?? 1 / (position + 1) ** this.scenario.clicks.positionDecay;
  }

  /** Logit of the item's attractiveness: P(click | examined). */
  attractivenessLogit(user: SimUser, ctx: SimContext, item: SimItem): number {
    const taste = user.affinity[item.category] as number;
    const noise = this.noiseOf(user)[item.index] as number;
    return this.logitOf(taste, user.priceSensitivity, user.segment, ctx, item) + noise;
  }

  /**
   * What the visible context alone says about an item: the logit for a typical member of the user's
   * segment (segment taste, mean price sensitivity, no personal terms). Ranking by it is the context-only
   * oracle: roughly the best a policy that sees segment, device and time of day (not the person) can do.
   */
  contextLogit(user: SimUser, ctx: SimContext, item: SimItem): number {
    const taste = (this.population.segmentAffinity[user.segment] as Float64Array)[item.category] as number;
    return this.logitOf(taste, this.scenario.users.priceSensitivityMean, user.segment, ctx, item);
  }

  private logitOf(taste: number, priceSensitivity: number, segment: number, ctx: SimContext, item: SimItem): number {
    const c = this.scenario.clicks;
    const peak = this.catalog.categoryPeakHour[item.category] as number;
    const hourTerm = c.hourAmplitude * Math.cos((2 * Math.PI * (ctx.hour - peak)) / 24);
    const sensitivity = priceSensitivity + (ctx.device === "mobile" ? MOBILE_EXTRA_PRICE_SENSITIVITY : 0);
    const priceTerm = -sensitivity * Math.log(item.price / this.catalog.medianPrice);
    return (
      c.baseLogit +
      c.popularityWeight * item.popularityZ +
      taste +
      this.drift(segment, item.category, ctx.time) +
      hourTerm +
      priceTerm
    );
  }

  attractiveness(user: SimUser, ctx: SimContext, item: SimItem): number {
    return sigmoid(this.attractivenessLogit(user, ctx, item));
  }

  clickProbability(user: SimUser, ctx: SimContext, item: SimItem, position: number): number {
    return this.examination(position) * this.attractiveness(user, ctx, item);
  }

  /** P(add to cart | click). */
  cartProbability(user: SimUser, ctx: SimContext, item: SimItem): number {
    const p = this.scenario.purchase;
    const sensitivity = user.priceSensitivity + (ctx.device === "mobile" ? MOBILE_EXTRA_PRICE_SENSITIVITY : 0);
    const logit =
      p.cartBaseLogit +
      p.cartAffinityWeight * (user.affinity[item.category] as number) -
      0.5 * sensitivity * Math.log(item.price / this.catalog.medianPrice);
    return sigmoid(logit);
  }

  /** P(purchase | click) = P(cart | click) · P(purchase | cart). */
  purchaseProbability(user: SimUser, ctx: SimContext, item: SimItem): number {
    return this.cartProbability(user, ctx, item) * this.scenario.purchase.purchaseGivenCart;
  }

  /** The context of a visit by `user` at `time`. */
  contextFor(user: SimUser, time: number, rng: Rng): SimContext {
    return {
      device: rng.next() < user.mobileProbability ? "mobile" : "desktop",
      hour: Math.floor((time % DAY) / HOUR),
      weekday: new Date(time).getUTCDay(),
      segment: this.population.segmentNames[user.segment] as string,
      time,
    };
  }

  /**
   * The request context the shop would send: what it knows about the visit, never the latent tastes.
   * Categorical values are strings so a linear learner one-hot encodes them (hour 23 is not "23× hour 1").
   */
  requestContext(ctx: SimContext): FeatureMap {
    return { device: ctx.device, daypart: daypart(ctx.hour), segment: ctx.segment };
  }

  /** Action features of an item as the shop knows them. */
  itemFeatures(item: SimItem): FeatureMap {
    return {
      category: item.categoryName,
      price_band:
        item.price < this.catalog.medianPrice / 1.5
          ? "low"
          : item.price > this.catalog.medianPrice * 1.5
            ? "high"
            : "mid",
      log_price_ratio: round3(Math.log(item.price / this.catalog.medianPrice)),
      popularity: round3(item.popularityZ),
    };
  }

  itemById(id: string): SimItem | undefined {
    const m = /^item-(\d+)$/.exec(id);
    return m ? this.catalog.items[Number(m[1])] : undefined;
  }

  userById(id: string): SimUser | undefined {
    const m = /^user-(\d+)$/.exec(id);
    return m ? this.population.users[Number(m[1])] : undefined;
  }

  /** Slow weekly drift of segment tastes (Section "drift" of the scenario); 0 unless configured. */
  private drift(segment: number, category: number, time: number): number {
    const amplitude = this.scenario.clicks.drift;
    if (amplitude === 0) return 0;
    const phase = (this.population.driftPhase[segment] as Float64Array)[category] as number;
    return amplitude * Math.sin((2 * Math.PI * time) / (7 * DAY) + phase);
  }

  private noiseOf(user: SimUser): Float32Array {
    let n = this.noise.get(user.index);
    if (!n) {
      if (this.noise.size >= NOISE_CACHE_USERS) this.noise.clear();
      n = userItemNoise(this.scenario.seed, user.index, this.catalog.items.length, this.scenario.clicks.noiseSd);
      this.noise.set(user.index, n);
    }
    return n;
  }
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Four parts of the day, as shops segment traffic. */
export function daypart(hour: number): string {
  if (hour < 6) return "night";
  if (hour < 12) return "morning";
  if (hour < 18) return "afternoon";
  return "evening";
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
