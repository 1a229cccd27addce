import { afterEach, describe, expect, it } from "vitest";
import { SnapshotFollower } from "./snapshot-follower.js";
import { SnapshotFencedOut, type SnapshotKind, type SnapshotStore, SnapshotVersionConflict } from "./snapshot-store.js";

/**
 * The one contract every SnapshotStore adapter passes (memory; Redis single node and Cluster). The factory
 * makes a fresh, empty store keeping the last 2 full snapshots.
 */
export function snapshotStoreContract(name: string, factory: () => Promise<SnapshotStore>): void {
  describe(`SnapshotStore contract: ${name}`, () => {
    const opened: SnapshotStore[] = [];
    const open = async (): Promise<SnapshotStore> => {
      const store = await factory();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });
    const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
    const publishAll = async (store: SnapshotStore, name: string, kinds: SnapshotKind[]): Promise<void> => {
      for (const [i, kind] of kinds.entries()) await store.publish(name, i + 1, bytes(i + 1), kind);
    };

    it("answers what a consumer needs to reach the latest version, in order, bytes intact", async () => {
      const store = await open();
      const blob = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
      await store.publish("policy:p1", 1, blob, "full");
      await store.publish("policy:p1", 2, bytes(2, 0, 2), "delta");
      await store.publish("policy:p1", 3, bytes(3), "delta");
      expect(await store.latest("policy:p1")).toEqual({ version: 3, kind: "delta" });
      const all = await store.since("policy:p1", undefined);
      expect(all.map((s) => [s.version, s.kind])).toEqual([
        [1, "full"],
        [2, "delta"],
        [3, "delta"],
      ]);
      expect([...all[0]!.bytes]).toEqual([...blob]);
      expect([...all[1]!.bytes]).toEqual([2, 0, 2]);
      expect((await store.since("policy:p1", 2)).map((s) => s.version)).toEqual([3]);
      expect(await store.since("policy:p1", 3)).toEqual([]);
      expect(await store.since("policy:none", undefined)).toEqual([]);
      expect(await store.latest("policy:none")).toBeUndefined();
    });

    it("refuses versions out of order, whole", async () => {
      const store = await open();
      await expect(store.publish("m", 1, bytes(1), "delta")).rejects.toBeInstanceOf(SnapshotVersionConflict);
      await store.publish("m", 5, bytes(5), "full");
      await expect(store.publish("m", 7, bytes(7), "delta")).rejects.toBeInstanceOf(SnapshotVersionConflict);
      await expect(store.publish("m", 5, bytes(5), "delta")).rejects.toBeInstanceOf(SnapshotVersionConflict);
      await expect(store.publish("m", 5, bytes(9), "full")).rejects.toBeInstanceOf(SnapshotVersionConflict);
      await expect(store.publish("m", 6.5, bytes(9), "full")).rejects.toBeInstanceOf(SnapshotVersionConflict);
      expect(await store.versions("m")).toEqual([{ version: 5, kind: "full" }]);
      await store.publish("m", 6, bytes(6), "delta");
      await store.publish("m", 9, bytes(9), "full"); // a full may skip ahead
      expect((await store.versions("m")).map((r) => r.version)).toEqual([5, 6, 9]);
    });

    it("refuses a publish fenced with a token below the highest one the name was published with, a full too", async () => {
      const store = await open();
      await store.publish("policy:f", 1, bytes(1), "full", 3); // the holder of token 3
      await store.publish("policy:f", 2, bytes(2), "delta", 3);
      await store.publish("policy:f", 3, bytes(3), "full", 4); // the next holder, token 4
      // The old holder wakes: its full at the latest + 1 passes the version rule, never the fence.
      await expect(store.publish("policy:f", 4, bytes(9), "full", 3)).rejects.toBeInstanceOf(SnapshotFencedOut);
      await expect(store.publish("policy:f", 4, bytes(9), "delta", 3)).rejects.toBeInstanceOf(SnapshotFencedOut);
      expect(await store.versions("policy:f")).toEqual([
        { version: 1, kind: "full" },
        { version: 2, kind: "delta" },
        { version: 3, kind: "full" },
      ]);
      // A refused version publish does not raise the fence; the current holder and unfenced publishes go on.
      await expect(store.publish("policy:f", 9, bytes(9), "delta", 7)).rejects.toBeInstanceOf(SnapshotVersionConflict);
      await store.publish("policy:f", 4, bytes(4), "delta", 4);
      await store.publish("policy:f", 5, bytes(5), "delta");
      await store.publish("other", 1, bytes(1), "full", 1); // fences are per name
      expect((await store.latest("policy:f"))?.version).toBe(5);
    });

    it("keeps versions from the second newest full on, and sends a consumer that fell behind to the last full", async () => {
      const store = await open();
      await publishAll(store, "r", ["full", "delta", "delta", "full", "delta", "full", "delta"]);
      expect((await store.versions("r")).map((r) => r.version)).toEqual([4, 5, 6, 7]);
      expect((await store.since("r", 2)).map((s) => s.version)).toEqual([6, 7]);
      expect((await store.since("r", 5)).map((s) => s.version)).toEqual([6, 7]);
      expect((await store.since("r", 6)).map((s) => s.version)).toEqual([7]);
      expect((await store.since("r", undefined)).map((s) => [s.version, [...s.bytes]])).toEqual([
        [6, [6]],
        [7, [7]],
      ]);
    });

    it("notifies subscribers of new versions until they stop", async () => {
      const store = await open();
      const heard: number[] = [];
      let wake: () => void = () => {};
      const stop = await store.subscribe("notify", (v) => {
        heard.push(v);
        wake();
      });
      const next = new Promise<void>((r) => {
        wake = r;
      });
      await store.publish("notify", 1, bytes(1), "full");
      await next;
      expect(heard).toContain(1);
      stop();
    });

    it("answers fulls as a prefix and their size when asked, and reads any range of a retained version", async () => {
      const store = await open();
      const blob = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
      await store.publish("ranged", 1, blob, "full");
      await store.publish("ranged", 2, bytes(9, 8, 7), "delta");
      const [full, delta] = await store.since("ranged", undefined, { fullPrefix: 16 });
      expect(full).toMatchObject({ version: 1, kind: "full", size: 300 });
      expect([...full!.bytes]).toEqual([...blob.subarray(0, 16)]);
      expect(delta).toMatchObject({ version: 2, kind: "delta" });
      expect([...delta!.bytes]).toEqual([9, 8, 7]); // deltas whole
      expect((await store.since("ranged", undefined, { fullPrefix: 1000 }))[0]).toMatchObject({ size: 300 });
      expect([...(await store.since("ranged", undefined, { fullPrefix: 1000 }))[0]!.bytes]).toEqual([...blob]);
      const parts = [await store.range("ranged", 1, 16, 200), await store.range("ranged", 1, 200, 10_000)];
      expect([...full!.bytes, ...parts[0]!, ...parts[1]!]).toEqual([...blob]);
      parts[0]![0] = 255 - parts[0]![0]!; // the caller's copy: the stored bytes are untouched
      expect([...(await store.range("ranged", 1, 16, 17))!]).toEqual([blob[16]]);
      expect(await store.range("ranged", 5, 0, 10)).toBeUndefined();
      expect(await store.range("nothing", 1, 0, 10)).toBeUndefined();
      // Retention drops version 1 after two newer fulls: its range is gone too.
      await store.publish("ranged", 3, bytes(3), "full");
      await store.publish("ranged", 4, bytes(4), "full");
      expect(await store.range("ranged", 1, 0, 10)).toBeUndefined();
    });

    it("brings a follower to the latest state, applying deltas in order or from the last full", async () => {
      const store = await open();
      const applied: string[] = [];
      let state = 0;
      const follower = new SnapshotFollower(store, "f", {
        full: (b, v) => {
          state = b[0]!;
          applied.push(`full ${v}`);
        },
        delta: (b, v) => {
          state += b[0]!;
          applied.push(`delta ${v}`);
        },
      });
      await store.publish("f", 1, bytes(10), "full");
      await store.publish("f", 2, bytes(1), "delta");
      await follower.catchUp();
      expect([follower.version, state]).toEqual([2, 11]);
      for (const [v, kind, b] of [
        [3, "delta", 2],
        [4, "full", 20],
        [5, "delta", 3],
        [6, "full", 30],
        [7, "delta", 4],
      ] as const)
        await store.publish("f", v, bytes(b), kind);
      await follower.catchUp(); // versions 3..5 are gone: it starts again from full 6
      expect([follower.version, state]).toEqual([7, 34]);
      expect(applied).toEqual(["full 1", "delta 2", "full 6", "delta 7"]);
    });
  });
}
