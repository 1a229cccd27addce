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

/** Memory for the users' item noise: all of the rollout shops' 100,000 users × 200 items (80 MB). */
const NOISE_CACHE_BYTES = 128 * 1024 * 1024;
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
  private readonly noiseCacheUsers: number;
  private readonly exam: Float64Array;
  /** Per item: baseLogit + popularityWeight · popularityZ, and log(price / median price) (see logitOf). */
  private readonly itemBase: Float64Array;
  private readonly logPriceRatio: Float64Array;
  /** hourAmplitude · cos(2π(hour − peak)/24) per hour 0–23 × category. */
  private readonly hourTerms: Float64Array;
  /** The attractiveness of each item for the last (user, context) asked, NaN until computed (see memoFor). */
  private memo = {
    user: undefined as SimUser | undefined,
    ctx: undefined as SimContext | undefined,
    values: new Float64Array(0),
  };

  constructor(scenario: Scenario) {
    this.scenario = scenario;
    const rng = rngFor("sim-world", String(scenario.seed));
    this.catalog = generateCatalog(scenario, rng);
    this.population = generatePopulation(scenario, this.catalog, rng);
    this.exam = Float64Array.from({ length: 64 }, (_, k) => 1 / (k + 1) ** scenario.clicks.positionDecay);
    const c = scenario.clicks;
    const items = this.catalog.items;
    this.itemBase = Float64Array.from(items, (item) => c.baseLogit + c.popularityWeight * item.popularityZ);
    this.logPriceRatio = Float64Array.from(items, (item) => Math.log(item.price / this.catalog.medianPrice));
    const categories = this.catalog.categoryPeakHour.length;
    this.hourTerms = new Float64Array(24 * categories);
    for (let hour = 0; hour < 24; hour++) {
      for (let k = 0; k < categories; k++) this.hourTerms[hour * categories + k] = this.hourTerm(hour, k);
    }
    this.noiseCacheUsers = Math.max(1, Math.floor(NOISE_CACHE_BYTES / (4 * Math.max(1, items.length))));
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

  /**
   * The terms are added in this order, each from a table computed with the same expression as before the
   * tables existed, so every probability is bit-for-bit what it was (a run's outcomes depend on them).
   */
  private logitOf(taste: number, priceSensitivity: number, segment: number, ctx: SimContext, item: SimItem): number {
    const own = this.catalog.items[item.index] === item;
    const categories = this.catalog.categoryPeakHour.length;
    const hourTerm =
      Number.isInteger(ctx.hour) && ctx.hour >= 0 && ctx.hour < 24
        ? (this.hourTerms[ctx.hour * categories + item.category] as number)
        : this.hourTerm(ctx.hour, item.category);
    const sensitivity = priceSensitivity + (ctx.device === "mobile" ? MOBILE_EXTRA_PRICE_SENSITIVITY : 0);
    const base = own ? (this.itemBase[item.index] as number) : this.itemBaseOf(item);
    const logPriceRatio = own
      ? (this.logPriceRatio[item.index] as number)
      : Math.log(item.price / this.catalog.medianPrice);
    const priceTerm = -sensitivity * logPriceRatio;
    return base + taste + this.drift(segment, item.category, ctx.time) + hourTerm + priceTerm;
  }

  private itemBaseOf(item: SimItem): number {
    const c = this.scenario.clicks;
    return c.baseLogit + c.popularityWeight * item.popularityZ;
  }

  private hourTerm(hour: number, category: number): number {
    const peak = this.catalog.categoryPeakHour[category] as number;
    return this.scenario.clicks.hourAmplitude * Math.cos((2 * Math.PI * (hour - peak)) / 24);
  }

  /** Memoized for the last (user, context): a page asks for the same item's value several times. */
  attractiveness(user: SimUser, ctx: SimContext, item: SimItem): number {
    if (this.catalog.items[item.index] !== item) return sigmoid(this.attractivenessLogit(user, ctx, item));
    const values = this.memoFor(user, ctx);
    let a = values[item.index] as number;
    if (Number.isNaN(a)) {
      a = sigmoid(this.attractivenessLogit(user, ctx, item));
      values[item.index] = a;
    }
    return a;
  }

  /**
   * Every catalog item's attractiveness for (user, context), indexed like `items` (the memo itself: read it,
   * do not keep it). One loop over the tables with the same terms in the same order as attractivenessLogit,
   * so each value is bit-for-bit what attractiveness() gives; paired candidates scan the whole catalog.
   */
  attractivenessOfAll(user: SimUser, ctx: SimContext): Float64Array {
    const values = this.memoFor(user, ctx);
    const items = this.catalog.items;
    const categories = this.catalog.categoryPeakHour.length;
    const hourly = Number.isInteger(ctx.hour) && ctx.hour >= 0 && ctx.hour < 24;
    const sensitivity = user.priceSensitivity + (ctx.device === "mobile" ? MOBILE_EXTRA_PRICE_SENSITIVITY : 0);
    const noise = this.noiseOf(user);
    for (let i = 0; i < items.length; i++) {
      if (!Number.isNaN(values[i] as number)) continue;
      const category = (items[i] as SimItem).category;
      const hourTerm = hourly
        ? (this.hourTerms[ctx.hour * categories + category] as number)
        : this.hourTerm(ctx.hour, category);
      const priceTerm = -sensitivity * (this.logPriceRatio[i] as number);
      const logit =
        (this.itemBase[i] as number) +
        (user.affinity[category] as number) +
        this.drift(user.segment, category, ctx.time) +
        hourTerm +
        priceTerm;
      values[i] = sigmoid(logit + (noise[i] as number));
    }
    return values;
  }

  private memoFor(user: SimUser, ctx: SimContext): Float64Array {
    const m = this.memo;
    const same =
      m.user === user &&
      m.ctx !== undefined &&
      m.ctx.time === ctx.time &&
      m.ctx.hour === ctx.hour &&
      m.ctx.device === ctx.device &&
      m.ctx.segment === ctx.segment;
    if (!same) {
      if (m.values.length !== this.catalog.items.length) m.values = new Float64Array(this.catalog.items.length);
      m.values.fill(Number.NaN);
      this.memo = { user, ctx: { ...ctx }, values: m.values };
    }
    return this.memo.values;
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
      if (this.noise.size >= this.noiseCacheUsers) this.noise.clear();
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
