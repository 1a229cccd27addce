import { describe, expect, it } from "vitest";
import { ManualClock, MINUTE } from "../core/clock.js";
import type { UserEvent } from "../core/types.js";
import type { EventLog } from "../events/event-log.js";
import { createMemoryFeatureStore } from "../storage/memory/feature-store-memory.js";
import { generateEvents } from "./feature-test-events.js";
import { featuresConfig } from "./features-config.js";
import { defaultRebuildLookback, rebuildFeatureStore } from "./rebuild-feature-store.js";

/** An event log over an array: scan honours from/to and timestamp order, as the port promises. */
function arrayLog(events: readonly UserEvent[]): EventLog {
  const sorted = [...events].sort((a, b) => a.timestamp - b.timestamp);
  return {
    append: async () => ({ inserted: [], duplicates: [] }),
    async *scan(o = {}) {
      const hit = sorted.filter((e) => e.timestamp >= (o.from ?? -Infinity) && e.timestamp < (o.to ?? Infinity));
      for (let i = 0; i < hit.length; i += o.batchSize ?? 100) yield hit.slice(i, i + (o.batchSize ?? 100));
    },
    count: async () => sorted.length,
    close: async () => {},
  };
}

describe("rebuildFeatureStore", () => {
  const T0 = Date.UTC(2026, 2, 2, 8);
  const config = featuresConfig({
    windowDuration: "10m",
    sessionGap: "90s", // the generator spaces a user's events 1–120 s apart: sessions split often
    custom: [{ name: "clicks_30m", eventTypes: ["click"], aggregate: "count", window: "30m" }],
  });

  it("replays the last window's events: windows, sessions and session items match the live store", async () => {
    const now = T0 + 40 * MINUTE;
    const all = generateEvents({ users: 300, events: 12_000, start: T0, seed: 11, lateShare: 0 });
    const events = all.filter((e) => e.timestamp <= now);
    const live = createMemoryFeatureStore(config, new ManualClock(now));
    await live.apply([...events].sort((a, b) => a.timestamp - b.timestamp));
    const restarted = createMemoryFeatureStore(config, new ManualClock(now));
    await restarted.apply([events[0] as UserEvent]); // stale state that clear() must drop
    const out = await rebuildFeatureStore(restarted, arrayLog(events), now);
    expect(out.from).toBe(now - defaultRebuildLookback(config));
    expect(out.events).toBeGreaterThan(0);
    expect(out.events).toBeLessThan(events.length);
    let compared = 0;
    for (const u of new Set(events.map((e) => e.userId))) {
      const a = live.readSync(u, now);
      const b = restarted.readSync(u, now);
      // The window (10 min) and the 30 min custom count lie inside the replayed span: always equal.
      for (const k of ["window_events", "window_count_click", "last_category_0", "last_item_0", "custom_clicks_30m"]) {
        expect(b.aggregates[k]).toEqual(a.aggregates[k]);
      }
      // A session that started at least one gap after the replay start comes back exactly (its boundary is
      // seen in the replay); older sessions and lifetime counts only see the replayed span.
      const lookback = defaultRebuildLookback(config);
      if (!a.sessionId || (a.aggregates.seconds_since_session_start as number) * 1000 > lookback - config.sessionGap)
        continue;
      expect(b.sessionItems).toEqual(a.sessionItems);
      expect(b.sessionId).toEqual(a.sessionId);
      for (const k of ["session_events", "session_ctr", "session_seconds"])
        expect(b.aggregates[k]).toEqual(a.aggregates[k]);
      compared++;
    }
    expect(compared).toBeGreaterThan(50);
  });
});
