import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sharedDataDir } from "../core/data-dir.js";
import type { UserEvent } from "../core/types.js";
import { createMemoryFeatureStore } from "../storage/memory/feature-store-memory.js";
import { featuresConfig } from "./features-config.js";

/**
 * Real-data check of "last 5 distinct viewed categories" on two DIGINETICA sessions
 * (../shared/data/sessions/diginetica-sample; see its README). Events are applied in FILE order, which is
 * not time order inside these sessions, so the late-event path is exercised too. Time = eventdate (UTC
 * midnight) + timeframe ms; userId = the session id (user_id is mostly NA).
 */
const dir = sharedDataDir();
const sample = dir && join(dir, "sessions", "diginetica-sample");
if (!sample) console.warn("skipping diginetica feature test: shared data not found (set LOOPWISE_DATA)");

const SESSIONS = new Set(["217", "586"]);

function load(path: string): UserEvent[] {
  const lines = readFileSync(join(path, "sample_train-item-views.csv"), "utf8").split("\n").slice(1);
  const rows = lines.map((l) => l.split(";")).filter((r) => SESSIONS.has(r[0] as string));
  const items = new Set(rows.map((r) => r[2] as string));
  const categories = new Map<string, string>();
  for (const l of readFileSync(join(path, "product-categories.csv"), "utf8").split("\n").slice(1)) {
    const [item, cat] = l.split(";");
    if (item && cat && items.has(item)) categories.set(item, cat.trim());
  }
  return rows.map(([session, , item, timeframe, date], i) => ({
    eventId: `dg-${i}`,
    type: "view",
    userId: `dg-${session}`,
    itemId: item as string,
    category: categories.get(item as string) as string,
    timestamp: Date.parse(date as string) + Number(timeframe),
  }));
}

describe.skipIf(!sample)("last 5 distinct viewed categories on diginetica-sample", () => {
  it("matches the hand-derived expectation for sessions 217 and 586", async () => {
    const events = load(sample as string);
    expect(events).toHaveLength(24);
    const store = createMemoryFeatureStore(featuresConfig(), { now: () => 0 });
    await store.apply(events);
    const cats = (userId: string) => {
      const end = Math.max(...events.filter((e) => e.userId === userId).map((e) => e.timestamp));
      const a = store.readSync(userId, end).aggregates;
      return [0, 1, 2, 3, 4].map((i) => a[`last_category_${i}`]);
    };
    // Session 217 (user 16, 2016-02-05), its 15 views sorted by timeframe, newest first, with
    // product-categories.csv: 194264→52 (1101330), 66031→52 (870730), 76811→267 (712586),
    // 72130→1189 (610516), 87476→685 (453373), 83401→685, 113372→18 (397999), 83401→685, ...
    // Distinct, newest first: 52, 267, 1189, 685, 18. The session spans 18 min, inside the 30 min window.
    expect(cats("dg-217")).toEqual(["52", "267", "1189", "685", "18"]);
    // Session 586 (2016-05-03), 9 views newest first: 30409→63 (1173065), 34081→1027 (1135408),
    // 1356→755 (1050502), 9971→43 (978269), 6808→43, 6808→43, 9571→40 (779259), 9571→40, 31188→334.
    // Distinct, newest first: 63, 1027, 755, 43, 40 (334 is the sixth and falls out).
    expect(cats("dg-586")).toEqual(["63", "1027", "755", "43", "40"]);
    // The session's items come back in time order although the file lists them out of order.
    const end586 = Date.parse("2016-05-03") + 1173065;
    expect(store.readSync("dg-586", end586).sessionItems).toEqual([
      "31188",
      "9571",
      "9571",
      "6808",
      "6808",
      "9971",
      "1356",
      "34081",
      "30409",
    ]);
  });
});
