import { describe, expect, it } from "vitest";
import { ArmTracker, type TrackerSnapshot } from "./arm-tracker.js";
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
      await store.saveStats("a", t.pendingSave());
      await store.saveStats("a", t.pendingSave());
      const again = reopen ? await reopen() : store;
      if (again !== store) await store.close();
      expect(await again.loadStats("a")).toEqual(t.snapshot());
      expect(await again.loadStats("none")).toBeUndefined();
      expect((await again.get("a"))?.id).toBe("a");
      await again.close();
    });

    it("applies each save's changes, forgets stage users at a new stage, and rewrites all after a failure", async () => {
      const { store, reopen } = await open();
      const t = new ArmTracker({ sessionTtlMs: 100, clickWindowMs: 50 });
      const decide = (userId: string, arm: "candidate" | "incumbent", timestamp: number) =>
        t.onDecision({ rolloutId: "a", arm, userId, sessionId: `s-${userId}`, timestamp, decisionId: `d${timestamp}` });
      const save = async () => {
        const s = t.pendingSave();
        await store.saveStats("a", s);
        return s;
      };
      decide("u1", "candidate", 1);
      decide("u2", "incumbent", 2);
      expect((await save()).full).toBe(true); // a fresh tracker writes everything once
      decide("u1", "candidate", 30); // an existing user: no new stage user
      decide("u3", "candidate", 40);
      t.onEvent({ eventId: "c", type: "click", userId: "u3", sessionId: "s-u3", timestamp: 41, decisionId: "d40" });
      t.prune(75); // forgets decisions d1 and d2 (past their click window); sessions are still alive
      const second = await save();
      expect(second).toMatchObject({ full: false, removed: { sessions: [], decisions: ["d1", "d2"] } });
      expect(second.sessions.map(([k]) => k).sort()).toEqual(["u1\u0000s-u1", "u3\u0000s-u3"]);
      expect(second.stageUsers).toEqual({ reset: false, added: { candidate: ["u3"], incumbent: [] } });
      expect(normalized((await store.loadStats("a")) as TrackerSnapshot)).toEqual(normalized(t.snapshot()));
      t.startStage();
      decide("u4", "incumbent", 120);
      t.prune(125); // u2's session idled out
      expect((await save()).stageUsers).toEqual({ reset: true, added: { candidate: [], incumbent: ["u4"] } });
      expect(normalized((await store.loadStats("a")) as TrackerSnapshot)).toEqual(normalized(t.snapshot()));
      t.pendingSave(); // taken, then the write failed: the next save must rewrite everything
      t.saveFailed();
      decide("u5", "candidate", 130);
      expect((await save()).full).toBe(true);
      const again = reopen ? await reopen() : store;
      if (again !== store) await store.close();
      expect(normalized((await again.loadStats("a")) as TrackerSnapshot)).toEqual(normalized(t.snapshot()));
      const resumed = new ArmTracker({ sessionTtlMs: 100, clickWindowMs: 50 }, await again.loadStats("a"));
      expect(resumed.stageUserCounts()).toEqual({ candidate: 1, incumbent: 1 });
      expect(resumed.pendingSave()).toMatchObject({ full: false, sessions: [], decisions: [] });
      await again.close();
    });
  });
}

/** A snapshot with its entries in key order (stores need not keep the tracker's insertion order). */
function normalized(s: TrackerSnapshot): TrackerSnapshot {
  const byKey = <V>(a: Array<[string, V]>) => [...a].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return {
    counters: s.counters,
    stageUsers: { candidate: [...s.stageUsers.candidate].sort(), incumbent: [...s.stageUsers.incumbent].sort() },
    sessions: byKey(s.sessions),
    decisions: byKey(s.decisions),
  };
}
