import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MINUTE } from "../core/clock.js";
import type { UserEvent } from "../core/types.js";
import { createMemoryFeatureStore } from "../storage/memory/feature-store-memory.js";
import type { FeatureStore } from "./feature-store.js";
import { generateEvents, mkEvent } from "./feature-test-events.js";
import { type FeaturesConfig, type FeaturesConfigInput, featuresConfig } from "./features-config.js";

const SECOND_MS = 1000;

/**
 * The one contract every FeatureStore adapter passes (DESIGN.md: one shared suite per port). Run from
 * `storage/memory/feature-store-memory.test.ts` and `storage/redis/feature-store-redis.test.ts` (single node
 * and Cluster). The last case replays a generated stream into the adapter and into the memory reference and
 * requires deep-equal answers: the "identical answers on the same event stream" of issue 3.
 */
export type StoreFactory = (config: FeaturesConfig) => Promise<FeatureStore>;

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0); // a Monday, 10:00 UTC

const CONTRACT_INPUT: FeaturesConfigInput = {
  windowSize: 6,
  windowDuration: "30m",
  sessionGap: "30m",
  k: 3,
  custom: [
    { name: "views_w", eventTypes: ["view"], aggregate: "count", window: "window" },
    { name: "spend_life", eventTypes: ["purchase"], aggregate: "sum", field: "value", window: "lifetime" },
    { name: "price_sess", aggregate: "mean", field: "price", window: "session" },
    { name: "last_cat_1h", aggregate: "last", field: "category", window: "1h" },
    { name: "clicks_2h", eventTypes: ["click"], aggregate: "count", window: "2h" },
    { name: "items_sess", aggregate: "distinct", window: "session" },
  ],
};
export const CONTRACT_CONFIG = featuresConfig(CONTRACT_INPUT);

/** What an adapter promises beyond the base contract (see `FeatureStore.appliesOnce`). */
export interface ContractOptions {
  appliesOnce?: boolean;
}

export function featureStoreContract(name: string, factory: StoreFactory, options: ContractOptions = {}): void {
  describe(`FeatureStore contract: ${name}`, () => {
    let store: FeatureStore;
    beforeAll(async () => {
      store = await factory(CONTRACT_CONFIG);
    });
    afterAll(async () => {
      await store.clear();
      await store.close();
    });

    it("gives an unknown user defaults with known=false and every documented name", async () => {
      const f = await store.read("nobody", T0);
      expect(f.known).toBe(false);
      expect(f.sessionId).toBeUndefined();
      expect(f.sessionItems).toEqual([]);
      expect(f.aggregates.session_events).toBe(0);
      expect(f.aggregates.secs_since_last_click).toBe(-1);
      expect(f.aggregates.last_category_2).toBe("");
      expect(f.aggregates.custom_spend_life).toBe(0);
    });

    it("reads its own writes and keeps the session's items in time order", async () => {
      await store.apply([mkEvent("u1", "view", T0, { itemId: "i1", category: "c1", price: 10 })]);
      let f = await store.read("u1", T0);
      expect(f.known).toBe(true);
      expect(f.sessionItems).toEqual(["i1"]);
      await store.apply([
        mkEvent("u1", "click", T0 + 10 * SECOND_MS, { itemId: "i2", category: "c2" }),
        mkEvent("u1", "view", T0 + 20 * SECOND_MS, { itemId: "i3", category: "c1", price: 30 }),
      ]);
      f = await store.read("u1", T0 + 60 * SECOND_MS);
      expect(f.sessionItems).toEqual(["i1", "i2", "i3"]);
      expect(f.sessionId).toBe(`s${T0}`);
      const a = f.aggregates;
      expect([a.session_events, a.session_count_view, a.session_count_click, a.session_ctr]).toEqual([3, 2, 1, 0.5]);
      expect([a.session_seconds, a.seconds_since_session_start, a.secs_since_last_click]).toEqual([20, 60, 50]);
      expect([a.view_price_count, a.view_price_mean, a.view_price_min, a.view_price_max, a.view_price_std]).toEqual([
        2, 20, 10, 30, 10,
      ]);
      expect([a.last_category_0, a.last_category_1, a.last_item_0, a.last_item_1]).toEqual(["c1", "", "i3", "i1"]);
      expect(a.custom_price_sess).toBe(20);
      expect(a.custom_items_sess).toBe(3);
    });

    it("splits sessions at the inactivity gap and at an explicit sessionId change", async () => {
      await store.apply([
        mkEvent("u2", "view", T0, { itemId: "a" }),
        mkEvent("u2", "view", T0 + 31 * MINUTE, { itemId: "b" }),
      ]);
      let f = await store.read("u2", T0 + 31 * MINUTE);
      expect([f.sessionId, f.sessionItems, f.aggregates.returning_user]).toEqual([`s${T0 + 31 * MINUTE}`, ["b"], 1]);
      await store.apply([mkEvent("u2", "view", T0 + 32 * MINUTE, { itemId: "c", sessionId: "S9" })]);
      f = await store.read("u2", T0 + 32 * MINUTE);
      expect([f.sessionId, f.sessionItems, f.aggregates.sessions_total]).toEqual(["S9", ["c"], 3]);
      f = await store.read("u2", T0 + 63 * MINUTE); // more than the gap after the last event: no session
      expect([f.sessionId, f.sessionItems, f.aggregates.session_events, f.known]).toEqual([undefined, [], 0, true]);
    });

    it("bounds the window by N events and by T, and reads local time from context", async () => {
      const evs = Array.from({ length: 8 }, (_, i) =>
        mkEvent("u3", "view", T0 + i * MINUTE, {
          itemId: `i${i}`,
          category: `c${i % 4}`,
          context: { timezoneOffsetMinutes: 120 },
        }),
      );
      await store.apply(evs);
      let f = await store.read("u3", T0 + 7 * MINUTE);
      expect(f.aggregates.window_events).toBe(6);
      expect(f.sessionItems).toEqual(["i2", "i3", "i4", "i5", "i6", "i7"]);
      expect([f.aggregates.last_category_0, f.aggregates.last_category_1, f.aggregates.last_category_2]).toEqual([
        "c3",
        "c2",
        "c1",
      ]);
      expect([f.aggregates.local_hour, f.aggregates.local_weekday, f.aggregates.tz_known]).toEqual([12, 1, 1]);
      // Affinity, half-life 10 min: c3 = 2^-0.4 + 1 (minutes 3 and 7) beats c2 = 2^-0.5 + 2^-0.1 (2 and 6).
      expect([f.aggregates.affinity_category_0, f.aggregates.affinity_category_1]).toEqual(["c3", "c2"]);
      expect(f.aggregates.affinity_score_0).toBeCloseTo(2 ** -0.4 + 1, 12);
      f = await store.read("u3", T0 + 34 * MINUTE + 30 * SECOND_MS);
      expect(f.aggregates.window_events).toBe(3); // events at minutes 5, 6, 7 are within the last 30 min
      expect(f.aggregates.session_events).toBe(8); // session counters outlive the window
    });

    it("inserts a late event in time order and keeps a past session's late event out of the session", async () => {
      await store.apply([
        mkEvent("u4", "view", T0, { itemId: "a" }),
        mkEvent("u4", "view", T0 + 2 * MINUTE, { itemId: "c" }),
        mkEvent("u4", "click", T0 + MINUTE, { itemId: "b" }),
      ]);
      let f = await store.read("u4", T0 + 3 * MINUTE);
      expect(f.sessionItems).toEqual(["a", "b", "c"]);
      expect([f.aggregates.session_events, f.aggregates.secs_since_last_view]).toEqual([3, 60]);
      await store.apply([
        mkEvent("u4", "view", T0 + 40 * MINUTE, { itemId: "d" }),
        // Late, and older than the new session's start minus the gap: it belongs to the first session.
        mkEvent("u4", "purchase", T0 + 2 * MINUTE + 30 * SECOND_MS, { itemId: "c", value: 7 }),
      ]);
      f = await store.read("u4", T0 + 41 * MINUTE);
      expect([f.sessionId, f.sessionItems, f.aggregates.session_events]).toEqual([`s${T0 + 40 * MINUTE}`, ["d"], 1]);
      expect([f.aggregates.window_events, f.aggregates.session_count_purchase]).toEqual([1, 0]);
      // User-level values still see it: lifetime spend and time since the last purchase.
      expect([f.aggregates.custom_spend_life, f.aggregates.secs_since_last_purchase]).toEqual([7, 2310]);
    });

    it("answers custom aggregates over durations from windowed counters", async () => {
      await store.apply([
        mkEvent("u5", "click", T0, { itemId: "a", category: "x" }),
        mkEvent("u5", "click", T0 + 50 * MINUTE, { itemId: "b", category: "y" }),
        mkEvent("u5", "click", T0 + 150 * MINUTE, { itemId: "c" }),
      ]);
      const f = await store.read("u5", T0 + 150 * MINUTE);
      expect(f.aggregates.custom_clicks_2h).toBe(2);
      expect(f.aggregates.custom_last_cat_1h).toBe("");
      const g = await store.read("u5", T0 + 60 * MINUTE);
      expect(g.aggregates.custom_last_cat_1h).toBe("y");
    });

    it("declares whether it applies an event id once", async () => {
      expect(store.appliesOnce === true).toBe(options.appliesOnce === true);
    });

    it.runIf(options.appliesOnce)(
      "counts the same event id applied twice once, also within one call and at once",
      async () => {
        const view = mkEvent("u7", "view", T0, { itemId: "a", eventId: "dup-1", price: 10 });
        const buy = mkEvent("u7", "purchase", T0 + MINUTE, { itemId: "a", eventId: "dup-2", value: 5 });
        const late = mkEvent("u7", "click", T0 + 30 * SECOND_MS, { itemId: "b", eventId: "dup-3" });
        await store.apply([view, buy]);
        // A retry (on another node: a copy, not the same object), a retry inside one call, and two nodes at once.
        await store.apply([{ ...view }, late, { ...late }, { ...buy }]);
        await Promise.all([store.apply([{ ...buy }, { ...view }]), store.apply([{ ...late }])]);
        const reference = createMemoryFeatureStore(CONTRACT_CONFIG, { now: () => T0 });
        await reference.apply([view, buy, late]);
        const at = T0 + 2 * MINUTE;
        const f = await store.read("u7", at);
        expect(f).toEqual(await reference.read("u7", at));
        const a = f.aggregates;
        expect([a.session_events, a.window_events, a.custom_spend_life, a.custom_clicks_2h]).toEqual([3, 3, 5, 1]);
      },
    );

    it("clear() drops every user", async () => {
      await store.apply([mkEvent("u6", "view", T0)]);
      await store.clear();
      expect((await store.read("u6", T0)).known).toBe(false);
      expect((await store.read("u1", T0)).known).toBe(false);
    });

    it("answers exactly as the memory reference on generated streams with late events", async () => {
      await store.clear();
      await sameAnswers(store, CONTRACT_CONFIG, generateEvents({ users: 12, events: 400, start: T0, seed: 7 }));
      await store.clear();
      // Short gap and many late events: sessions split often and late events cross session starts.
      const churn = featuresConfig({ ...CONTRACT_INPUT, sessionGap: "90s", windowSize: 20, windowDuration: "5m" });
      const churnStore = await factory(churn);
      await sameAnswers(
        churnStore,
        churn,
        generateEvents({ users: 6, events: 500, start: T0, seed: 8, lateShare: 0.3 }),
      );
      await churnStore.clear();
    });
  });
}

/** Applies the stream in batches to `store` and to a memory reference; after each batch, every user of the
 * batch must read the same at the batch's latest timestamp. */
async function sameAnswers(store: FeatureStore, config: FeaturesConfig, events: readonly UserEvent[]): Promise<void> {
  const reference = createMemoryFeatureStore(config, { now: () => T0 });
  for (let i = 0; i < events.length; i += 23) {
    const batch = events.slice(i, i + 23);
    await store.apply(batch);
    await reference.apply(batch);
    const at = Math.max(...batch.map((e) => e.timestamp));
    for (const u of new Set(batch.map((e) => e.userId))) {
      expect(await store.read(u, at)).toEqual(await reference.read(u, at));
    }
  }
}
