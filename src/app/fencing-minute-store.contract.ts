import { describe, expect, it } from "vitest";
import { FencedOut } from "../rollout/rollout-store.js";
import type { FencingMinuteStore } from "./dashboard-ports.js";
import { emptyCounts, type MinuteRow } from "./minute-aggregates.js";

const row = (series: string, minute: number, decisions: number): MinuteRow => ({
  series,
  minute,
  ...emptyCounts(),
  decisions,
  revenue: decisions * 1.5,
});

/**
 * The `dashboard-fold` duty's fenced writes (app/dashboard-ports.ts `FencingMinuteStore`), run against every
 * adapter that has them: a checkpoint writes minutes, cut and consumer state together; once a newer token
 * claimed the fence, an older holder's checkpoint is refused and writes nothing.
 */
export function fencingMinuteStoreContract(name: string, open: () => Promise<FencingMinuteStore>): void {
  describe(`fencing minute store contract: ${name}`, () => {
    it("a checkpoint stores minutes, drops minutes before the cut and keeps the consumer state", async () => {
      const store = await open();
      await store.save([row("policy:a", 0, 9)]);
      const writes = await store.fenced("dashboard-fold", 3);
      await writes.checkpoint([row("policy:a", 60_000, 2), row("policy:b", 120_000, 5)], 60_000, '{"at":1}');
      const rows = (await store.load(0)).sort((x, y) => x.minute - y.minute);
      expect(rows).toEqual([row("policy:a", 60_000, 2), row("policy:b", 120_000, 5)]);
      expect(await store.loadCheckpoint("dashboard-fold")).toBe('{"at":1}');
      expect(await store.loadCheckpoint("another")).toBeUndefined();
    });

    it("refuses an older token's checkpoint once a newer one claimed the fence, writing nothing", async () => {
      const store = await open();
      const stale = await store.fenced("dashboard-fold", 4);
      await stale.checkpoint([row("policy:a", 60_000, 1)], 0, '{"by":4}');
      const fresh = await store.fenced("dashboard-fold", 5);
      await expect(stale.checkpoint([row("policy:a", 60_000, 99)], 0, '{"by":"stale"}')).rejects.toBeInstanceOf(
        FencedOut,
      );
      await expect(store.fenced("dashboard-fold", 4)).rejects.toBeInstanceOf(FencedOut);
      expect(await store.load(0)).toEqual([row("policy:a", 60_000, 1)]);
      expect(await store.loadCheckpoint("dashboard-fold")).toBe('{"by":4}');
      await fresh.checkpoint([row("policy:a", 60_000, 7)], 0, '{"by":5}');
      expect(await store.load(0)).toEqual([row("policy:a", 60_000, 7)]);
      expect(await store.loadCheckpoint("dashboard-fold")).toBe('{"by":5}');
    });

    it("keeps the attribution parts of the accepted checkpoints: the last full and the deltas after it", async () => {
      const store = await open();
      const bytes = (...b: number[]) => new Uint8Array(b);
      const writes = await store.fenced("dashboard-fold", 6);
      expect(await store.loadAttribution("dashboard-fold")).toEqual([]);
      await writes.checkpoint([], 0, "{}", { full: true, bytes: bytes(1, 1) });
      await writes.checkpoint([], 0, "{}", { full: false, bytes: bytes(2) });
      await writes.checkpoint([], 0, "{}"); // nothing changed: no part
      await writes.checkpoint([], 0, "{}", { full: false, bytes: bytes(3, 0, 255) });
      expect(await store.loadAttribution("dashboard-fold")).toEqual([bytes(1, 1), bytes(2), bytes(3, 0, 255)]);
      const fresh = await store.fenced("dashboard-fold", 7);
      await expect(writes.checkpoint([], 0, "{}", { full: true, bytes: bytes(9) })).rejects.toBeInstanceOf(FencedOut);
      expect(await store.loadAttribution("dashboard-fold")).toHaveLength(3);
      await fresh.checkpoint([], 0, "{}", { full: true, bytes: bytes(4) });
      await fresh.checkpoint([], 0, "{}", { full: false, bytes: bytes(5) });
      expect(await store.loadAttribution("dashboard-fold")).toEqual([bytes(4), bytes(5)]);
      expect(await store.loadAttribution("another")).toEqual([]);
    });
  });
}
