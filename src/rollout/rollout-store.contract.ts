import { describe, expect, it } from "vitest";
import { ArmTracker } from "./arm-tracker.js";
import type { RolloutStore } from "./rollout-store.js";
import type { AuditEntry, Rollout } from "./rollout-types.js";
import { DEFAULT_ROLLOUT_CONFIG } from "./rollout-types.js";

/** The one contract every RolloutStore adapter passes (DESIGN.md: one shared suite per port). */
export function rolloutStoreContract(
  name: string,
  open: () => Promise<{ store: RolloutStore; reopen?: () => Promise<RolloutStore> }>,
): void {
  const rollout = (id: string, createdAt: number): Rollout => ({
    id,
    candidate: "cand",
    incumbent: "inc",
    config: structuredClone(DEFAULT_ROLLOUT_CONFIG),
    hashVersion: 1,
    status: "running",
    stageIndex: 0,
    candidateShare: 0.01,
    stageStartedAt: createdAt,
    createdAt,
    updatedAt: createdAt,
  });
  const entry = (rolloutId: string, at: number): AuditEntry => ({
    rolloutId,
    at,
    action: "advance",
    actor: "auto",
    fromStage: 0,
    toStage: 1,
    fromShare: 0.01,
    toShare: 0.1,
    status: "running",
    reasons: [{ code: "stage_held", message: "ok", heldMs: 5 }],
    stats: { candidate: { decisions: 3 } },
  });

  describe(`RolloutStore contract: ${name}`, () => {
    it("saves, replaces, gets and lists rollouts newest first", async () => {
      const { store } = await open();
      await store.save(rollout("a", 1));
      await store.save(rollout("b", 2));
      await store.save({ ...rollout("a", 1), stageIndex: 2, candidateShare: 0.5 });
      expect((await store.get("a"))?.candidateShare).toBe(0.5);
      expect(await store.get("missing")).toBeUndefined();
      expect((await store.list()).map((r) => r.id)).toEqual(["b", "a"]);
      await store.close();
    });

    it("keeps the audit log per rollout in order, with its data", async () => {
      const { store } = await open();
      await store.appendAudit(entry("a", 2));
      await store.appendAudit(entry("b", 1));
      await store.appendAudit({ ...entry("a", 3), action: "rollback" });
      const log = await store.audit("a");
      expect(log.map((e) => e.action)).toEqual(["advance", "rollback"]);
      expect(log[0]?.reasons[0]).toEqual({ code: "stage_held", message: "ok", heldMs: 5 });
      expect(log[0]?.stats).toEqual({ candidate: { decisions: 3 } });
      await store.close();
    });

    it("round-trips a counters snapshot and survives reopening", async () => {
      const { store, reopen } = await open();
      const t = new ArmTracker({ sessionTtlMs: 1000, clickWindowMs: 1000 });
      t.onDecision({ rolloutId: "a", arm: "candidate", userId: "u1", sessionId: "s1", timestamp: 5 });
      t.onEvent({ eventId: "e", type: "click", userId: "u1", sessionId: "s1", timestamp: 6 });
      await store.save(rollout("a", 1));
      await store.saveStats("a", t.snapshot());
      await store.saveStats("a", t.snapshot());
      const again = reopen ? await reopen() : store;
      if (again !== store) await store.close();
      expect(await again.loadStats("a")).toEqual(t.snapshot());
      expect(await again.loadStats("none")).toBeUndefined();
      expect((await again.get("a"))?.id).toBe("a");
      await again.close();
    });
  });
}
