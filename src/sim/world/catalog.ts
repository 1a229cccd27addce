import { normal, type Rng } from "../../core/rng.js";
import type { Scenario } from "./scenario.js";

/** One product of the simulated shop. `popularity` is a share: all items' popularities sum to 1. */
export interface SimItem {
  id: string;
  index: number;
  category: number;
  categoryName: string;
  price: number;
  popularity: number;
  /** Standardized log popularity (mean 0, sd 1 over the catalog): the term attractiveness uses. */
  popularityZ: number;
}

export interface Catalog {
  items: SimItem[];
  categoryNames: string[];
  /** Peak hour of each category's time-of-day pattern (e.g. electronics in the evening). */
  categoryPeakHour: number[];
  medianPrice: number;
}

/**
 * Items with categories, log-normal prices around a per-category level and Zipf popularity (rank r gets
 * weight 1 / r^s, ranks shuffled so popularity is independent of category and price).
 */
export function generateCatalog(scenario: Scenario, rng: Rng): Catalog {
  const { items: n, categories, priceMedian, priceSpread, popularityExponent } = scenario.catalog;
  const categoryNames = Array.from({ length: categories }, (_, c) => `cat-${c}`);
  const categoryLevel = categoryNames.map(() => Math.log(priceMedian) + 0.5 * normal(rng));
  const categoryPeakHour = categoryNames.map(() => Math.floor(rng.next() * 24));
  const ranks = shuffled(
    Array.from({ length: n }, (_, i) => i + 1),
    rng,
  );
  const weights = ranks.map((r) => 1 / r ** popularityExponent);
  const total = weights.reduce((a, b) => a + b, 0);
  const logPop = weights.map((w) => Math.log(w / total));
  const mean = logPop.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(logPop.reduce((a, b) => a + (b - mean) ** 2, 0) / n) || 1;
  const items: SimItem[] = [];
  for (let i = 0; i < n; i++) {
    const category = i % categories;
    const price = Math.round(Math.exp((categoryLevel[category] as number) + priceSpread * normal(rng)) * 100) / 100;
    items.push({
      id: `item-${i}`,
      index: i,
      category,
      categoryName: categoryNames[category] as string,
      price: Math.max(0.5, price),
      popularity: (weights[i] as number) / total,
      popularityZ: ((logPop[i] as number) - mean) / sd,
    });
  }
  const medianPrice = median(items.map((it) => it.price));
  return { items, categoryNames, categoryPeakHour, medianPrice };
}

export function shuffled<T>(values: T[], rng: Rng): T[] {
  const out = values.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 1;
}
