import { newEventId } from "../../src/client/ids.js";
import { rngFor, type Xoshiro128 } from "../../src/core/rng.js";
import type { FeatureMap } from "../../src/core/types.js";

/** The catalog every rank bench loads (loadBenchCatalog): item-0 … item-1999. */
const CATALOG_SIZE = 2000;

/** Loads the catalog the realistic requests draw from (20 categories), in upserts of 1,000 items. */
export async function loadBenchCatalog(engine: {
  upsertItems(body: { items: { id: string; category: string; price: number }[] }): Promise<unknown>;
}): Promise<void> {
  const items = Array.from({ length: CATALOG_SIZE }, (_, i) => ({
    id: `item-${i}`,
    category: `c${i % 20}`,
    price: 5 + (i % 200),
  }));
  for (let i = 0; i < items.length; i += 1000) await engine.upsertItems({ items: items.slice(i, i + 1000) });
}
const DEVICES = ["mobile", "desktop", "tablet"];
const DAYPARTS = ["morning", "afternoon", "evening", "night"];
const SEGMENTS = ["new", "casual", "loyal", "deal-seeker"];

/**
 * The i-th realistic rank request (issue 12): a fresh user and context every time, 100 candidates drawn from
 * the catalog with 2 request features each (a price and a discount), 10 slots. Seeded, so two runs offer the
 * same traffic.
 */
export function realisticRankBody(i: number, run = "bench"): Record<string, unknown> {
  const rng = rngFor("rank-bench", `${run}:${i}`);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)] as T;
  const start = Math.floor(rng.next() * CATALOG_SIZE);
  const stride = 1 + Math.floor(rng.next() * 13);
  const candidates = Array.from({ length: 100 }, (_, k) => ({
    id: `item-${(start + k * stride) % CATALOG_SIZE}`,
    features: { price: Math.round(rng.next() * 20000) / 100, discount: Math.round(rng.next() * 50) / 100 },
  }));
  // stride × 99 < CATALOG_SIZE, so the 100 ids are distinct, as a request's candidate ids must be.
  return {
    userId: `u-${run}-${i}`,
    context: {
      device: pick(DEVICES),
      daypart: pick(DAYPARTS),
      segment: pick(SEGMENTS),
      visits: Math.floor(rng.next() * 40),
    },
    candidates,
    slots: 10,
  };
}

/** The i-th batch of 100 view events (the events-in-batches case): 50,000 users, the catalog's items. */
export function eventBatchBody(i: number): Record<string, unknown> {
  return {
    events: Array.from({ length: 100 }, (_, k) => ({
      type: "view",
      userId: `ub${(i * 100 + k) % 50_000}`,
      itemId: `item-${(i + k * 7) % CATALOG_SIZE}`,
      eventId: `b${i}-${k}`,
    })),
  };
}

/**
 * `eventBatchBody` with event ids as our client makes them (`ev_<uuid>`, client/ids.ts: long and random), where the bench's own
 * `b<i>-<k>` are short and nearly ordered: a log that indexes ids pays for random keys only with these.
 */
export function eventBatchBodyClientIds(i: number): Record<string, unknown> {
  const body = eventBatchBody(i) as { events: { eventId: string }[] };
  for (const e of body.events) e.eventId = newEventId();
  return body;
}

/**
 * The i-th request of the in-process rank benches (rank.bench.ts, ab-rank.ts, writer-tail.ts): a fresh user and
 * context, 100 candidates out of a 1,000-item range (`sku-N`, the ids those benches upsert) with 2 request
 * features each, 10 slots; drawn from the bench's `rng` stream.
 */
export function inProcessRankBody(rng: Xoshiro128, i: number): Record<string, unknown> {
  const start = Math.floor(rng.next() * (IN_PROCESS_CATALOG - IN_PROCESS_CANDIDATES));
  const candidates = Array.from({ length: IN_PROCESS_CANDIDATES }, (_, c) => {
    const features: FeatureMap = { discount: Math.round(rng.next() * 50), badge: rng.next() < 0.2 ? "new" : "none" };
    return { id: `sku-${start + c}`, features };
  });
  const context: FeatureMap = {
    device: i % 3 === 0 ? "mobile" : "desktop",
    hour: i % 24,
    referrer: `ref${Math.floor(rng.next() * 50)}`,
    basket_value: Math.round(rng.next() * 20_000) / 100,
  };
  return { userId: `user-${i}`, sessionId: `s-${i}`, context, candidates, slots: IN_PROCESS_SLOTS };
}

/** The catalog `inProcessRankBody` draws from: sku-0 … sku-999 in 20 categories, prices from `rng`. */
export async function loadInProcessCatalog(
  engine: { upsertItems(body: { items: { id: string; category: string; price: number }[] }): Promise<unknown> },
  rng: Xoshiro128,
): Promise<void> {
  await engine.upsertItems({
    items: Array.from({ length: IN_PROCESS_CATALOG }, (_, i) => ({
      id: `sku-${i}`,
      category: `cat${i % 20}`,
      price: Math.round(rng.next() * 10_000) / 100,
    })),
  });
}
export const IN_PROCESS_CANDIDATES = 100;
export const IN_PROCESS_SLOTS = 10;
export const IN_PROCESS_CATALOG = 1000;
