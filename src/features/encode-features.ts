import { hashIndex } from "../core/hash.js";
import { BUILTIN_EVENT_TYPES, type FeatureMap } from "../core/types.js";

/**
 * Turns aggregates (computeFeatures) plus the request context into the numeric vector models use. The
 * order is stable and documented, and depends only on `spec` and the names of the custom aggregates:
 *
 * 1. dense, in DENSE order: "bias" = 1; counts and durations as log1p(x) (heavy-tailed, >= 0); rates and
 *    flags as is; each secs_since_last_<type> as two slots, `:log1p` (0 when never) and `:never` (1/0);
 *    local_hour as `:sin`/`:cos` on the 24 h circle; local_weekday one-hot `local_weekday=0..6`.
 * 2. custom: numeric `custom_<name>` aggregates in name order, as is (string ones go to the hashed block 5).
 * 3. `last_category#0..D-1`: last k viewed categories hashed (hashing trick, Weinberger et al. 2009, as in
 *    Vowpal Wabbit), weight 1/(rank+1) so the most recent counts most.
 * 4. `affinity#0..D-1`: the top categories' affinity scores (affinity_category_i, affinity_score_i) hashed
 *    by category.
 * 5. `context#0..D-1`: request context and string custom aggregates: numbers add their value at
 *    hash(key), booleans 1/0 at hash(key), strings 1 at hash("key=value").
 * Collisions add. D = spec.hashDims (default 32). Hash seeds differ per block so blocks are independent.
 */
export interface EncoderSpec {
  hashDims: number;
}

export const DEFAULT_ENCODER_SPEC: EncoderSpec = { hashDims: 32 };

type Transform = "log1p" | "raw";
const DENSE: readonly (readonly [string, Transform])[] = [
  ["events_total", "log1p"],
  ["sessions_total", "log1p"],
  ["returning_user", "raw"],
  ["days_since_first_seen", "log1p"],
  ["session_events", "log1p"],
  ["session_seconds", "log1p"],
  ["seconds_since_session_start", "log1p"],
  ...BUILTIN_EVENT_TYPES.map((t) => [`session_count_${t}`, "log1p"] as const),
  ["session_ctr", "raw"],
  ["window_events", "log1p"],
  ...BUILTIN_EVENT_TYPES.map((t) => [`window_count_${t}`, "log1p"] as const),
  ["window_distinct_items", "log1p"],
  ["window_distinct_categories", "log1p"],
  ["view_price_count", "log1p"],
  ["view_price_mean", "log1p"],
  ["view_price_min", "log1p"],
  ["view_price_max", "log1p"],
  ["view_price_std", "log1p"],
  ["affinity_score_0", "raw"],
  ["tz_known", "raw"],
];

const SEED_LAST_CATEGORY = 0x1a57ca7;
const SEED_AFFINITY = 0xaff1;
const SEED_CONTEXT = 0xc0de;

const namesCache = new Map<string, string[]>();

/** The vector's names for a spec and a set of numeric custom aggregates (cached: they are per-config). */
export function featureNames(spec: EncoderSpec, numericCustom: readonly string[]): string[] {
  const key = `${spec.hashDims}|${numericCustom.join(",")}`;
  let names = namesCache.get(key);
  if (names) return names;
  names = ["bias", ...DENSE.map(([n, t]) => (t === "log1p" ? `${n}:log1p` : n))];
  for (const t of BUILTIN_EVENT_TYPES) names.push(`secs_since_last_${t}:log1p`, `secs_since_last_${t}:never`);
  names.push("local_hour:sin", "local_hour:cos");
  for (let d = 0; d < 7; d++) names.push(`local_weekday=${d}`);
  names.push(...numericCustom);
  for (const block of ["last_category", "affinity", "context"]) {
    for (let i = 0; i < spec.hashDims; i++) names.push(`${block}#${i}`);
  }
  namesCache.set(key, names);
  return names;
}

const asNumber = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

export function encodeFeatures(
  aggregates: FeatureMap,
  context: FeatureMap = {},
  spec: EncoderSpec = DEFAULT_ENCODER_SPEC,
): { names: string[]; values: Float64Array } {
  const customKeys = Object.keys(aggregates)
    .filter((k) => k.startsWith("custom_"))
    .sort();
  const numericCustom = customKeys.filter((k) => typeof aggregates[k] === "number");
  const names = featureNames(spec, numericCustom);
  const values = new Float64Array(names.length);
  let i = 0;
  values[i++] = 1;
  for (const [n, t] of DENSE) {
    const x = asNumber(aggregates[n]);
    values[i++] = t === "log1p" ? Math.log1p(Math.max(0, x)) : x;
  }
  for (const t of BUILTIN_EVENT_TYPES) {
    const secs = asNumber(aggregates[`secs_since_last_${t}`] ?? -1);
    values[i++] = secs < 0 ? 0 : Math.log1p(secs);
    values[i++] = secs < 0 ? 1 : 0;
  }
  const hour = asNumber(aggregates.local_hour);
  values[i++] = Math.sin((2 * Math.PI * hour) / 24);
  values[i++] = Math.cos((2 * Math.PI * hour) / 24);
  const weekday = asNumber(aggregates.local_weekday);
  for (let d = 0; d < 7; d++) values[i++] = d === weekday ? 1 : 0;
  for (const k of numericCustom) values[i++] = asNumber(aggregates[k]);
  const D = spec.hashDims;
  const add = (at: number, x: number): void => {
    values[at] = (values[at] as number) + x;
  };
  const lastCat = i;
  const affinity = i + D;
  const ctx = i + 2 * D;
  for (let r = 0; ; r++) {
    const c = aggregates[`last_category_${r}`];
    if (c === undefined) break;
    if (c !== "") add(lastCat + hashIndex(String(c), D, SEED_LAST_CATEGORY), 1 / (r + 1));
  }
  for (let r = 0; ; r++) {
    const c = aggregates[`affinity_category_${r}`];
    if (c === undefined) break;
    if (c !== "") add(affinity + hashIndex(String(c), D, SEED_AFFINITY), asNumber(aggregates[`affinity_score_${r}`]));
  }
  const hashed = (k: string, v: unknown): void => {
    if (typeof v === "number") add(ctx + hashIndex(k, D, SEED_CONTEXT), asNumber(v));
    else if (typeof v === "boolean") add(ctx + hashIndex(k, D, SEED_CONTEXT), v ? 1 : 0);
    else if (typeof v === "string") add(ctx + hashIndex(`${k}=${v}`, D, SEED_CONTEXT), 1);
  };
  for (const [k, v] of Object.entries(context)) hashed(`ctx:${k}`, v);
  for (const k of customKeys) if (typeof aggregates[k] === "string") hashed(k, aggregates[k]);
  return { names, values };
}
