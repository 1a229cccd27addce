import { describe, expect, it } from "vitest";
import { ArmTracker } from "./arm-tracker.js";
import { FencedOut, type FencingRolloutStore } from "./rollout-store.js";
import type { Rollout } from "./rollout-types.js";
import { DEFAULT_ROLLOUT_CONFIG } from "./rollout-types.js";

/** The fencing part of the rollout port (issue 13): every adapter the rollout duty writes through passes it. */
export function fencedRolloutStoreContract(name: string, open: () => Promise<FencingRolloutStore>): void {
  const rollout = (status: Rollout["status"], updatedAt: number): Rollout => ({
    id: "ro1",
    candidate: "cand",
    incumbent: "inc",
    config: structuredClone(DEFAULT_ROLLOUT_CONFIG),
    hashVersion: 1,
    status,
    stageIndex: 0,
    candidateShare: 0.01,
    stageStartedAt: 0,
    createdAt: 0,
    updatedAt,
  });
  const savesOf = (decisions: number) => {
    const t = new ArmTracker({ sessionTtlMs: 1e9, clickWindowMs: 1e9 });
    for (let i = 0; i < decisions; i++)
      t.onDecision({ rolloutId: "ro1", arm: "candidate", userId: `u${i}`, timestamp: i });
    return t;
  };

  describe(`FencingRolloutStore contract: ${name}`, () => {
    it("refuses every write of an older token once a newer one claimed the fence, and writes nothing of it", async () => {
      const store = await open();
      const old = await store.fenced("rollout-controller", 1);
      await old.save(rollout("running", 1));
      const tracker = savesOf(2);
      await old.checkpoint([["ro1", tracker.pendingSave()]], '{"at":"old"}');
      await store.fenced("rollout-controller", 2);
      await expect(old.save(rollout("rolled_back", 2))).rejects.toBeInstanceOf(FencedOut);
      await expect(old.appendAudit({ ...audit(), at: 2 })).rejects.toBeInstanceOf(FencedOut);
      tracker.onDecision({ rolloutId: "ro1", arm: "incumbent", userId: "late", timestamp: 9 });
      await expect(old.checkpoint([["ro1", tracker.pendingSave()]], '{"at":"stale"}')).rejects.toBeInstanceOf(
        FencedOut,
      );
      expect((await store.get("ro1"))?.status).toBe("running");
      expect(await store.audit("ro1")).toEqual([]);
      expect((await store.loadStats("ro1"))?.counters.incumbent.decisions).toBe(0);
      expect((await store.loadStats("ro1"))?.counters.candidate.decisions).toBe(2);
      expect(await store.loadCheckpoint("rollout-controller")).toBe('{"at":"old"}');
      await expect(store.fenced("rollout-controller", 1)).rejects.toBeInstanceOf(FencedOut);
      await store.close();
    });

    it("writes counters and the consumer's state together, and keeps fences per lease", async () => {
      const store = await open();
      const writes = await store.fenced("rollout-controller", 7);
      const tracker = savesOf(3);
      await writes.checkpoint([["ro1", tracker.pendingSave()]], '{"n":1}');
      tracker.onDecision({ rolloutId: "ro1", arm: "incumbent", userId: "x", timestamp: 5 });
      await writes.checkpoint([["ro1", tracker.pendingSave()]], '{"n":2}');
      expect(await store.loadStats("ro1")).toEqual(tracker.snapshot());
      expect(await store.loadCheckpoint("rollout-controller")).toBe('{"n":2}');
      expect(await store.loadCheckpoint("other")).toBeUndefined();
      // Another lease's fence is its own: token 1 is fine there.
      await (await store.fenced("other", 1)).save(rollout("paused", 3));
      expect((await store.get("ro1"))?.status).toBe("paused");
      await store.close();
    });
  });
}

function audit() {
  return {
    rolloutId: "ro1",
    at: 1,
    action: "advance" as const,
    actor: "auto" as const,
    fromStage: 1,
    toStage: 10,
    fromShare: 0.01,
    toShare: 0.1,
    status: "running" as const,
    reasons: [],
  };
}
