import { sigmoid } from "./diagonal-gaussian.js";

/**
 * Exact or approximate 1-D posteriors of a = w·x under one observation, given its prior N(ma, va): the
 * step both Gaussian posteriors project back onto their weights (disjoint-gaussian.ts).
 */

/** Gaussian likelihood y ~ N(a, noise): the Kalman update of N(ma, va). */
export function kalman(ma: number, va: number, y: number, noise: number): [number, number] {
  const s = va + noise;
  return [ma + (va * (y - ma)) / s, va - (va * va) / s];
}

/** 1-D Laplace approximation of N(ma, va) × Bernoulli(σ(a))^weight at the mode (Newton). */
export function laplace(ma: number, va: number, y: number, weight: number): [number, number] {
  let a = ma;
  for (let it = 0; it < 20; it++) {
    const p = sigmoid(a);
    const step = (weight * (y - p) - (a - ma) / va) / (weight * p * (1 - p) + 1 / va);
    a += step;
    if (Math.abs(step) < 1e-10) break;
  }
  const p = sigmoid(a);
  return [a, 1 / (weight * p * (1 - p) + 1 / va)];
}
