import { z } from "zod";
import { normal, type Rng } from "../../core/rng.js";
import { BasePolicy } from "../base-policy.js";
import { checkPoolBudget, parseParams, poolParams, positive, probability } from "../params.js";
import type { PolicyFeedback, PolicyInput, PolicySpec } from "../policy.js";
import { type PolicyType, restoreWith, restoreWithInSlices } from "../policy-type.js";
import { requestKey } from "../request-key.js";
import { type PoolEntry, SamplePool } from "../sample-pool.js";

/**
 * Beta-Bernoulli Thompson sampling (Thompson 1933; Chapelle & Li 2011, Algorithm 2): each candidate id
 * has a Beta(α, β) posterior on its reward rate, per context bucket (the values of the `bucketBy` context
 * features; none = context-free). Rewards are clipped to [0, 1] and counted fractionally. Exact
 * propensities through the same sample pool as thompson.ts (share of M Beta draws won, plus a floor),
 * drawn from the counts frozen at the last refresh.
 */
export class BetaBernoulliPolicy extends BasePolicy<PoolEntry> {
  readonly pool: SamplePool;
  private readonly opts: BetaParams;
  private counts = new Map<string, [number, number]>();
  private serving = new Map<string, [number, number]>();
  private dirty = new Set<string>();
  private epoch = 0;
  private sinceRefresh = 0;

  constructor(id: string, version: number, spec: PolicySpec) {
    super(id, "beta-bernoulli", version, spec);
    this.opts = parseParams(schema, spec);
    this.pool = new SamplePool({ size: this.opts.poolSize, topK: this.opts.topK, cacheSize: this.opts.cacheSize });
  }

  private bucket(input: PolicyInput): string {
    return this.opts.bucketBy.map((f) => String(input.context[f] ?? input.profile?.[f] ?? "")).join("\u0001");
  }

  protected prepare(input: PolicyInput): PoolEntry {
    const bucket = this.bucket(input);
    const ids = input.candidates.map((c) => c.id);
    const key = requestKey({ bucket }, input.candidates, false);
    return this.pool.get(key, this.epoch, this.id, ids.length, (rng, scores, size) => {
      const n = ids.length;
      const { priorAlpha, priorBeta } = this.opts;
      const ab = ids.map((id): [number, number] => this.serving.get(`${bucket}\u0001${id}`) ?? [0, 0]);
      for (let m = 0; m < size; m++) {
        for (let c = 0; c < n; c++) {
          const [s, f] = ab[c]!;
          scores[m * n + c] = sampleBeta(rng, priorAlpha + s, priorBeta + f);
        }
      }
    });
  }

  protected slotDistribution(entry: PoolEntry, mask: Uint8Array): Float64Array {
    return entry.distribution(mask, this.opts.floor);
  }

  protected learn(feedback: PolicyFeedback): void {
    const key = `${this.bucket(feedback.input)}\u0001${feedback.input.candidates[feedback.index]!.id}`;
    const r = Math.min(1, Math.max(0, feedback.reward));
    const ab = this.counts.get(key) ?? [0, 0];
    this.counts.set(key, [ab[0] + r, ab[1] + 1 - r]);
    this.dirty.add(key);
    if (++this.sinceRefresh >= this.opts.refreshEvery) this.refresh();
  }

  refresh(): void {
    for (const key of this.dirty) this.serving.set(key, [...this.counts.get(key)!]);
    this.dirty.clear();
    this.sinceRefresh = 0;
    this.epoch++;
  }

  protected state(): unknown {
    return {
      counts: [...this.counts],
      serving: [...this.serving],
      epoch: this.epoch,
      sinceRefresh: this.sinceRefresh,
    };
  }

  restoreState(state: unknown): void {
    const s = state as { counts: [string, [number, number]][]; serving: [string, [number, number]][]; epoch: number };
    this.counts = new Map(s.counts);
    this.serving = new Map(s.serving);
    this.dirty = new Set(
      [...this.counts.keys()].filter((k) => String(this.counts.get(k)) !== String(this.serving.get(k))),
    );
    this.epoch = s.epoch;
    this.sinceRefresh = (state as { sinceRefresh: number }).sinceRefresh;
    this.pool.clear();
  }

  protected parameters(): Record<string, unknown> {
    return { ...this.opts, epoch: this.epoch, arms: this.counts.size, poolsBuilt: this.pool.builds };
  }
}

/** Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 via the boost Gamma(a+1)·U^(1/a). */
export function sampleGamma(rng: Rng, shape: number): number {
  if (shape < 1) {
    let u = rng.next();
    while (u === 0) u = rng.next();
    return sampleGamma(rng, shape + 1) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normal(rng);
    let v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const u = rng.next();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function sampleBeta(rng: Rng, a: number, b: number): number {
  const x = sampleGamma(rng, a);
  const y = sampleGamma(rng, b);
  return x / (x + y);
}

const schema = z
  .strictObject({
    priorAlpha: positive.default(1),
    priorBeta: positive.default(1),
    /** Context features whose values define the bucket; [] = context-free. */
    bucketBy: z.array(z.string().min(1).max(128)).max(64).default([]),
    ...poolParams,
    floor: probability.default(0.01),
  })
  .superRefine(checkPoolBudget);

type BetaParams = z.infer<typeof schema>;

export const betaBernoulliType: PolicyType = {
  description: "Beta-Bernoulli Thompson sampling per candidate id (context-free or per context bucket)",
  explores: true,
  create: (id: string, spec: PolicySpec, version: number) => new BetaBernoulliPolicy(id, version, spec),
  restore: (snapshot) => restoreWith(betaBernoulliType, snapshot),
  restoreInSlices: (snapshot) => restoreWithInSlices(betaBernoulliType, snapshot),
};
