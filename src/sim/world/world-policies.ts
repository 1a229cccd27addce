import type { Policy, PolicyFeedback, PolicyInput, SlotChoice } from "../../bandit/policy.js";
import { type Rng, sampleIndex } from "../../core/rng.js";
import type { SimItem } from "./catalog.js";
import type { SimUser } from "./population.js";
import type { SimContext, World } from "./world.js";

/**
 * Policies that know the world (Policy port), for OPE experiments: the oracle (true attractiveness),
 * popularity, uniform and a softmax over the true logits (a stochastic policy with full support, a good
 * logging policy). They read the visit from the context keys the OPE logs carry: `user_id`, `hour`,
 * `device`, `segment` (and `sim_time` when the scenario drifts). They never learn.
 */
export type WorldPolicyKind = "oracle" | "popularity" | "uniform" | "softmax";

export interface WorldPolicyOptions {
  /** Softmax temperature on the logit scale (default 1). */
  temperature?: number;
  /** Share of uniform exploration mixed in (softmax only; default 0). */
  epsilon?: number;
  /** Popularity scores by item index (popularity only). */
  popularity?: Float64Array;
}

export class WorldPolicy implements Policy {
  readonly version = 1;
  readonly type: string;

  constructor(
    readonly id: string,
    private readonly world: World,
    private readonly kind: WorldPolicyKind,
    private readonly options: WorldPolicyOptions = {},
  ) {
    this.type = `world-${kind}`;
  }

  distribution(input: PolicyInput, placed: readonly number[] = []): Float64Array {
    const n = input.candidates.length;
    const out = new Float64Array(n);
    const taken = new Set(placed);
    const free = [...Array(n).keys()].filter((i) => !taken.has(i));
    if (free.length === 0) return out;
    if (this.kind === "uniform") {
      for (const i of free) out[i] = 1 / free.length;
      return out;
    }
    const scores = this.scores(input);
    if (this.kind === "softmax") return this.softmax(scores, free, out);
    // Deterministic: the best free candidate (lowest index on ties) gets probability 1.
    let best = free[0] as number;
    for (const i of free) if ((scores[i] as number) > (scores[best] as number)) best = i;
    out[best] = 1;
    return out;
  }

  rank(input: PolicyInput, slots: number, rng: Rng): SlotChoice[] {
    const placed: number[] = [];
    const out: SlotChoice[] = [];
    for (let position = 0; position < Math.min(slots, input.candidates.length); position++) {
      const probabilities = this.distribution(input, placed);
      const index = sampleIndex(probabilities, rng);
      out.push({ position, index, propensity: probabilities[index] as number, probabilities });
      placed.push(index);
    }
    return out;
  }

  update(_feedback: PolicyFeedback): void {
    // World policies know the truth; they have nothing to learn.
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, temperature: this.options.temperature, epsilon: this.options.epsilon };
  }

  snapshot(): unknown {
    return { id: this.id, type: this.type, kind: this.kind, options: { ...this.options, popularity: undefined } };
  }

  /** The visit described by an OPE log's context. */
  visitOf(input: PolicyInput): { user: SimUser; ctx: SimContext } {
    const c = input.context;
    const user = this.world.userById(String(c.user_id));
    if (!user)
      throw new Error(`world policy ${this.id}: context.user_id "${String(c.user_id)}" is not a simulated user`);
    const ctx: SimContext = {
      device: c.device === "mobile" ? "mobile" : "desktop",
      hour: Number(c.hour ?? 12),
      weekday: 0,
      segment: String(c.segment ?? ""),
      time: Number(c.sim_time ?? 0),
    };
    return { user, ctx };
  }

  private scores(input: PolicyInput): Float64Array {
    const items = input.candidates.map((c) => this.world.itemById(c.id));
    if (this.kind === "popularity") {
      const pop = this.options.popularity;
      return Float64Array.from(items, (item) => (item && pop ? (pop[item.index] as number) : 0));
    }
    const { user, ctx } = this.visitOf(input);
    return Float64Array.from(items, (item) =>
      item ? this.world.attractivenessLogit(user, ctx, item as SimItem) : Number.NEGATIVE_INFINITY,
    );
  }

  private softmax(scores: Float64Array, free: number[], out: Float64Array): Float64Array {
    const t = this.options.temperature ?? 1;
    const eps = this.options.epsilon ?? 0;
    let max = Number.NEGATIVE_INFINITY;
    for (const i of free) max = Math.max(max, scores[i] as number);
    let z = 0;
    for (const i of free) {
      out[i] = Math.exp(((scores[i] as number) - max) / t);
      z += out[i] as number;
    }
    for (const i of free) out[i] = (1 - eps) * ((out[i] as number) / z) + eps / free.length;
    return out;
  }
}
