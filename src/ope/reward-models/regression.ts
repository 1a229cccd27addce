import { murmur3 } from "../../core/hash.js";
import { Xoshiro128 } from "../../core/rng.js";
import type { FeatureMap } from "../../core/types.js";
import type { LoggedRound } from "../logged-round.js";
import type { FittedRewardModel, RewardModel, RewardModelOptions } from "./reward-model.js";

/**
 * Learned reward models on hashed context × action features (the hashing trick, Weinberger et al. 2009):
 * a bias, the action id, action × position, the context features, the action's own features, and every
 * context feature crossed with the action id. Trained by SGD with AdaGrad steps and an L2 penalty:
 * `ridge` minimizes squared error, `logistic` log loss (rewards must be in [0, 1]). Cross-fitted over K
 * folds (see reward-model.ts).
 */
const BITS = 18;
const MASK = (1 << BITS) - 1;

interface Sparse {
  idx: number[];
  val: number[];
}

interface RegressionOptions {
  loss: "squared" | "logistic";
  l2?: number;
  epochs?: number;
  learningRate?: number;
}

export function regressionModel(options: RegressionOptions): RewardModel {
  const name = options.loss === "squared" ? "ridge" : "logistic";
  return {
    name,
    description: `${options.loss === "squared" ? "ridge" : "logistic"} regression on hashed context × action features, K-fold cross-fitted`,
    fit(rounds: readonly LoggedRound[], fitOptions: RewardModelOptions): FittedRewardModel {
      if (options.loss === "logistic" && rounds.some((r) => r.reward < 0 || r.reward > 1)) {
        throw new Error("the logistic reward model needs rewards in [0, 1]; use ridge");
      }
      const folds = Math.max(1, Math.min(fitOptions.folds ?? 3, rounds.length));
      const rng = new Xoshiro128(fitOptions.seed ?? 0);
      const fold = Int32Array.from(rounds, () => Math.floor(rng.next() * folds));
      const features = new FeatureCache();
      const models = Array.from({ length: folds }, (_, f) =>
        train(rounds, features, options, (i) => folds === 1 || fold[i] !== f, fitOptions.seed ?? 0),
      );
      return {
        predict(round, i, out) {
          const w = models[folds === 1 ? 0 : (fold[i] as number)] as Float64Array;
          for (let j = 0; j < round.candidates.length; j++) {
            const z = dot(w, features.row(round, j));
            out[j] = options.loss === "logistic" ? sigmoid(z) : z;
          }
        },
      };
    },
  };
}

function train(
  rounds: readonly LoggedRound[],
  features: FeatureCache,
  options: RegressionOptions,
  inFold: (i: number) => boolean,
  seed: number,
): Float64Array {
  const w = new Float64Array(1 << BITS);
  const g2 = new Float64Array(1 << BITS).fill(1e-8);
  const l2 = options.l2 ?? 1e-6;
  const eta = options.learningRate ?? 0.1;
  const order = Int32Array.from({ length: rounds.length }, (_, i) => i).filter(inFold);
  const rng = new Xoshiro128(seed ^ 0x5bd1e995);
  for (let epoch = 0; epoch < (options.epochs ?? 3); epoch++) {
    shuffle(order, rng);
    for (const i of order) {
      const round = rounds[i] as LoggedRound;
      const x = features.row(round, round.action);
      const z = dot(w, x);
      const pred = options.loss === "logistic" ? sigmoid(z) : z;
      const err = pred - round.reward; // gradient of both losses w.r.t. z
      for (let t = 0; t < x.idx.length; t++) {
        const h = x.idx[t] as number;
        const g = err * (x.val[t] as number) + l2 * (w[h] as number);
        g2[h] = (g2[h] as number) + g * g;
        w[h] = (w[h] as number) - (eta * g) / Math.sqrt(g2[h] as number);
      }
    }
  }
  return w;
}

/** Hashes each context and each candidate list once; crosses are integer mixes of the two hashes. */
class FeatureCache {
  private readonly contexts = new WeakMap<FeatureMap, Sparse>();
  private readonly actions = new WeakMap<ReadonlyArray<unknown>, { id: number; own: Sparse }[]>();

  row(round: LoggedRound, j: number): Sparse {
    const ctx = this.context(round);
    const action = (this.candidates(round) as { id: number; own: Sparse }[])[j] as { id: number; own: Sparse };
    const idx = [0, action.id & MASK, mix(action.id, round.position + 1) & MASK];
    const val = [1, 1, 1];
    for (let t = 0; t < action.own.idx.length; t++) {
      idx.push(action.own.idx[t] as number);
      val.push(action.own.val[t] as number);
    }
    for (let t = 0; t < ctx.idx.length; t++) {
      idx.push((ctx.idx[t] as number) & MASK, mix(ctx.idx[t] as number, action.id) & MASK);
      val.push(ctx.val[t] as number, ctx.val[t] as number);
    }
    return { idx, val };
  }

  /** The round's shared features, profile and request context together (the request wins on a name). */
  private context(round: LoggedRound): Sparse {
    let s = this.contexts.get(round.context);
    if (!s) {
      s = hashFeatures(round.profile ? { ...round.profile, ...round.context } : round.context, "x");
      this.contexts.set(round.context, s);
    }
    return s;
  }

  private candidates(round: LoggedRound): { id: number; own: Sparse }[] {
    let c = this.actions.get(round.candidates);
    if (!c) {
      c = round.candidates.map((cand) => {
        const own = hashFeatures(cand.features ?? {}, "f");
        own.idx = own.idx.map((h) => h & MASK);
        return { id: murmur3(`a=${cand.id}`), own };
      });
      this.actions.set(round.candidates, c);
    }
    return c;
  }
}

function hashFeatures(map: FeatureMap, ns: string): Sparse {
  const idx: number[] = [];
  const val: number[] = [];
  for (const [k, v] of Object.entries(map)) {
    if (typeof v === "number") {
      if (v === 0 || !Number.isFinite(v)) continue;
      idx.push(murmur3(`${ns}:${k}`));
      val.push(v);
    } else {
      idx.push(murmur3(`${ns}:${k}=${String(v)}`));
      val.push(1);
    }
  }
  return { idx, val };
}

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function dot(w: Float64Array, x: Sparse): number {
  let z = 0;
  for (let t = 0; t < x.idx.length; t++) z += (w[x.idx[t] as number] as number) * (x.val[t] as number);
  return z;
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

function shuffle(a: Int32Array, rng: Xoshiro128): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = a[i] as number;
    a[i] = a[j] as number;
    a[j] = t;
  }
}
