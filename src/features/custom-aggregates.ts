import type { FeatureMap, FeatureValue } from "../core/types.js";
import { type FeatureSnapshot, num, str } from "./feature-snapshot.js";
import { CUSTOM_BUCKETS, customValue } from "./feature-writes.js";
import type { CustomAggregateConfig } from "./features-config.js";
import type { WindowEntry } from "./window-entry.js";

/**
 * Read side of user-declared aggregates (`custom_<name>`); the write side is `customWrites` in
 * feature-writes.ts. Empty results: 0 for numbers, "" for a `last` of itemId/category.
 */
export function customAggregates(
  a: FeatureMap,
  configs: readonly CustomAggregateConfig[],
  s: FeatureSnapshot,
  win: readonly WindowEntry[],
  session: readonly WindowEntry[],
  sessionStart: number,
  now: number,
): void {
  for (const c of configs) {
    const key = `custom_${c.name}`;
    if (c.window === "window") a[key] = fromEntries(c, win);
    else if (c.aggregate === "distinct") a[key] = fromEntries(c, session);
    else if (c.aggregate === "last") a[key] = lastValue(c, s, c.window === "session" ? sessionStart : since(c, now));
    else a[key] = fromCounters(c, s, now);
  }
}

function emptyLast(c: CustomAggregateConfig): FeatureValue {
  return c.field === "price" || c.field === "value" ? 0 : "";
}

function since(c: CustomAggregateConfig, now: number): number {
  return typeof c.window === "number" ? now - c.window : Number.NEGATIVE_INFINITY;
}

function fromEntries(c: CustomAggregateConfig, entries: readonly WindowEntry[]): FeatureValue {
  let n = 0;
  let sum = 0;
  let last: FeatureValue | undefined;
  const distinct = new Set<string | number>();
  for (const e of entries) {
    if (c.eventTypes.length > 0 && !c.eventTypes.includes(e.type)) continue;
    const v = customValue(c, { itemId: e.item, category: e.cat, price: e.price, value: e.value });
    if (c.aggregate === "count") n++;
    else if (v === undefined) continue;
    else if (c.aggregate === "last") last = v;
    else if (c.aggregate === "distinct") distinct.add(v);
    else if (typeof v === "number") {
      n++;
      sum += v;
    }
  }
  switch (c.aggregate) {
    case "count":
      return n;
    case "sum":
      return sum;
    case "mean":
      return n > 0 ? sum / n : 0;
    case "distinct":
      return distinct.size;
    default:
      return last ?? emptyLast(c);
  }
}

function lastValue(c: CustomAggregateConfig, s: FeatureSnapshot, from: number): FeatureValue {
  const at = num(s.user, `l:${c.name}@`);
  const raw = str(s.user, `l:${c.name}`);
  if (at === undefined || raw === undefined || at < from) return emptyLast(c);
  return JSON.parse(raw) as FeatureValue;
}

function fromCounters(c: CustomAggregateConfig, s: FeatureSnapshot, now: number): number {
  let n: number;
  let sum: number;
  if (c.window === "session" || c.window === "lifetime") {
    const [m, prefix] = c.window === "session" ? [s.session, "x:"] : [s.user, "u:"];
    n = num(m, `${prefix}${c.name}:n`) ?? 0;
    sum = num(m, `${prefix}${c.name}:s`) ?? 0;
  } else if (typeof c.window === "number") {
    n = bucketSum(s, `${c.name}:n`, c.window, now);
    sum = bucketSum(s, `${c.name}:s`, c.window, now);
  } else return 0; // "window" is computed from entries, never here

  if (c.aggregate === "count") return n;
  if (c.aggregate === "sum") return sum;
  return n > 0 ? sum / n : 0;
}

/** Sum of the buckets of `field` that overlap (now - duration, now]: approximate by up to one bucket. */
function bucketSum(s: FeatureSnapshot, field: string, duration: number, now: number): number {
  const bucketMs = Math.ceil(duration / CUSTOM_BUCKETS);
  const oldest = Math.floor(now / bucketMs) - CUSTOM_BUCKETS + 1;
  const prefix = `${field}|`;
  // Sorted by bucket so the floating-point sum is the same whatever order the backend returned fields in.
  const parts: [number, number][] = [];
  for (const [k, v] of s.windowed) {
    if (!k.startsWith(prefix)) continue;
    const b = Number(k.slice(prefix.length));
    if (b >= oldest) parts.push([b, typeof v === "number" ? v : Number(v)]);
  }
  parts.sort((x, y) => x[0] - y[0]);
  let sum = 0;
  for (const [, v] of parts) sum += v;
  return sum;
}
