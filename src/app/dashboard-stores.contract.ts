import { describe, expect, it } from "vitest";
import type { AuditInput, AuditLog, MinuteStore } from "./dashboard-ports.js";
import { emptyCounts, type MinuteRow } from "./minute-aggregates.js";

/**
 * One contract for the dashboard's stores (per-minute aggregates, audit timeline), run against every
 * adapter: memory, SQLite and PostgreSQL.
 */
export function dashboardStoresContract(
  name: string,
  open: () => Promise<{ minutes: MinuteStore; audit: AuditLog; close?: () => Promise<void> }>,
): void {
  describe(`dashboard stores (${name})`, () => {
    it("saves minutes, replaces a saved minute whole, loads from a time on and drops older minutes", async () => {
      const { minutes, close } = await open();
      const row = (series: string, minute: number, decisions: number): MinuteRow => ({
        series,
        minute,
        ...emptyCounts(),
        decisions,
        revenue: decisions * 1.5,
      });
      await minutes.save([
        row("policy:a", 60_000, 3),
        row("policy:a", 120_000, 4),
        row("rollout:r:candidate", 120_000, 1),
      ]);
      await minutes.save([row("policy:a", 120_000, 7)]);
      const loaded = (await minutes.load(120_000)).sort((x, y) => x.series.localeCompare(y.series));
      expect(loaded).toEqual([row("policy:a", 120_000, 7), row("rollout:r:candidate", 120_000, 1)]);
      await minutes.deleteBefore(120_000);
      expect((await minutes.load(0)).map((r) => r.minute)).toEqual([120_000, 120_000]);
      await close?.();
    });

    it("appends audit entries with increasing seq and lists them filtered, paged and in both orders", async () => {
      const { audit, close } = await open();
      const entry = (at: number, action: string, id: string, actor: string | null): AuditInput => ({
        at,
        actor: { name: actor, scope: actor === null ? "controller" : "admin" },
        action,
        target: { kind: "rollout", id },
        summary: `${action} ${id}`,
        ...(actor === null ? { details: { reasons: ["stable"], ctr: 0.1 } } : {}),
      });
      const a = await audit.append(entry(1_000, "rollout.create", "r1", "ops-alice"));
      const b = await audit.append(entry(2_000, "rollout.advance", "r1", null));
      const c = await audit.append(entry(3_000, "rollout.create", "r2", "ops_bob%"));
      expect(a.seq).toBeLessThan(b.seq);
      expect(b.seq).toBeLessThan(c.seq);
      expect((await audit.list({ limit: 10 })).map((e) => e.seq)).toEqual([c.seq, b.seq, a.seq]);
      expect((await audit.list({ limit: 10, ascending: true, after: a.seq })).map((e) => e.seq)).toEqual([
        b.seq,
        c.seq,
      ]);
      expect((await audit.list({ limit: 1, before: c.seq })).map((e) => e.seq)).toEqual([b.seq]);
      expect((await audit.list({ limit: 10, action: "rollout" })).length).toBe(3);
      expect((await audit.list({ limit: 10, action: "rollout.create" })).map((e) => e.seq)).toEqual([c.seq, a.seq]);
      expect((await audit.list({ limit: 10, targetId: "r1", from: 1_500 })).map((e) => e.seq)).toEqual([b.seq]);
      expect((await audit.list({ limit: 10, actor: "ops_bob%" })).map((e) => e.seq)).toEqual([c.seq]);
      const [controller] = await audit.list({ limit: 1, targetId: "r1", to: 2_001, from: 2_000 });
      expect(controller).toEqual({ ...entry(2_000, "rollout.advance", "r1", null), seq: b.seq });
      await close?.();
    });
  });
}
