import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { killHard, postJson, randomPort, startServerProcess } from "./server-process.js";

const dataDir = mkdtempSync(join(tmpdir(), "loopwise-crash-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/**
 * Acknowledged means durable: load the server with ranks, events and rewards from several concurrent
 * clients, kill -9 it mid-load, restart it on the same data, and find every acknowledged write.
 */
describe("kill -9 mid-load", () => {
  it("keeps every acknowledged decision, event and reward, and the joins still work", async () => {
    const port = randomPort();
    // With the product's warm-up (on a throwaway store): the real log must hold exactly what was acknowledged.
    const first = await startServerProcess(dataDir, port, { LOOPWISE_WARM_UP_RANKS: "100" });
    const acked = {
      decisions: [] as string[],
      events: [] as string[],
      /** The acknowledged events as sent, to retry after the restart. */
      eventBodies: [] as Record<string, unknown>[],
      rewards: [] as { decisionId: string; rewardId: string }[],
    };
    let stop = false;
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await postJson(
            `${first.url}/v1/rank`,
            {
              userId: `u${c}`,
              candidates: [{ id: "a" }, { id: "b" }, { id: "c" }],
              slots: 2,
            },
            first.adminKey,
          );
          if (r.status !== 200) continue;
          const decisionId = r.body.decisionId as string;
          acked.decisions.push(decisionId);
          const eventId = `ev-${c}-${i}`;
          const event = {
            type: "click",
            userId: `u${c}`,
            itemId: (r.body.ranking as { id: string }[])[0]?.id,
            decisionId,
            eventId,
          };
          const e = await postJson(`${first.url}/v1/events`, { events: [event] }, first.adminKey);
          if (e.status === 200) {
            acked.events.push(eventId);
            acked.eventBodies.push(event);
          }
          const rewardId = `rw-${c}-${i}`;
          const w = await postJson(
            `${first.url}/v1/decisions/${decisionId}/reward`,
            {
              value: 2,
              rewardId,
              itemId: (r.body.ranking as { id: string }[])[1]?.id,
            },
            first.adminKey,
          );
          if (w.status === 200) acked.rewards.push({ decisionId, rewardId });
        } catch {
          return; // the server died under us: in-flight requests were never acknowledged
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, c) => client(c));
    // Kill once the load is well under way: at least 2.5 s and 60 acknowledged decisions (a loaded CI
    // machine needs longer for that), at most 15 s.
    const started = Date.now();
    while (Date.now() - started < 15_000 && (Date.now() - started < 2500 || acked.decisions.length < 60)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await killHard(first.child);
    stop = true;
    await Promise.all(clients);
    expect(acked.decisions.length).toBeGreaterThan(50);
    console.info(
      `crash test: ${acked.decisions.length} decisions, ${acked.events.length} events, ${acked.rewards.length} rewards acknowledged before kill -9`,
    );

    const second = await startServerProcess(dataDir, port);
    const auth = { authorization: `Bearer ${second.adminKey}` };
    try {
      for (const id of acked.decisions) {
        const res = await fetch(`${second.url}/v1/decisions/${id}`, { headers: auth });
        expect(res.status, `decision ${id}`).toBe(200);
      }
      const last = acked.rewards[acked.rewards.length - 1];
      if (last) {
        const logged = (await (
          await fetch(`${second.url}/v1/decisions/${last.decisionId}`, { headers: auth })
        ).json()) as {
          rewards: { rewardId: string }[];
        };
        expect(logged.rewards.map((r) => r.rewardId)).toContain(last.rewardId);
      }
      // A client retrying its acknowledged events after the crash: every one is a duplicate (the log writer's
      // dedup window was rebuilt from the log before the server listened), logged once.
      for (let i = 0; i < acked.eventBodies.length; i += 500) {
        const retry = await postJson(
          `${second.url}/v1/events`,
          { events: acked.eventBodies.slice(i, i + 500) },
          second.adminKey,
        );
        expect(retry.status).toBe(200);
        const statuses = (retry.body.results as { status: string }[]).map((x) => x.status);
        expect(statuses.filter((x) => x !== "duplicate")).toEqual([]);
      }
      // New traffic joins as before after the restart.
      const r = await postJson(
        `${second.url}/v1/rank`,
        { userId: "after", candidates: [{ id: "a" }] },
        second.adminKey,
      );
      const w = await postJson(`${second.url}/v1/decisions/${r.body.decisionId}/reward`, { value: 1 }, second.adminKey);
      expect(w.body.status).toBe("accepted");
    } finally {
      await killHard(second.child);
    }
    const db = new Database(join(dataDir, "loopwise.db"), { readonly: true });
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      const hasEvent = db.prepare("SELECT 1 FROM events WHERE event_id = ?").pluck();
      const missingEvents = acked.events.filter((id) => !hasEvent.get(id));
      expect(missingEvents).toEqual([]);
      const rowsOf = db.prepare("SELECT count(*) FROM events WHERE event_id = ?").pluck();
      expect(acked.events.filter((id) => rowsOf.get(id) !== 1)).toEqual([]);
      const hasReward = db.prepare("SELECT 1 FROM rewards WHERE reward_id = ?").pluck();
      expect(acked.rewards.filter((r) => !hasReward.get(r.rewardId))).toEqual([]);
      // Each acknowledged click event became exactly one reward row (the join survived the crash too).
      const eventRewards = db.prepare("SELECT count(*) FROM rewards WHERE source = 'event'").pluck().get() as number;
      expect(eventRewards).toBeGreaterThanOrEqual(acked.events.length);
    } finally {
      db.close();
    }
  }, 90_000);

  it("keeps decisions acknowledged at their journal write when kill -9 comes before their commit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-crash-journal-"));
    try {
      const port = randomPort();
      const first = await startServerProcess(dir, port, { LOOPWISE_WARM_UP_RANKS: "0" });
      // The test holds SQLite's write lock: the server's log writer cannot commit, so an acknowledged rank is in
      // the decision journal only when the server dies.
      const blocker = new Database(join(dir, "loopwise.db"));
      blocker.prepare("BEGIN IMMEDIATE").run();
      const acked: string[] = [];
      try {
        // Fewer than the writes that may wait for their commit before a rank waits too (log-writer.ts JOURNAL_LEAD).
        for (let i = 0; i < 6; i++) {
          const r = await postJson(
            `${first.url}/v1/rank`,
            { userId: `u${i % 3}`, candidates: [{ id: "a" }, { id: "b" }, { id: "c" }], slots: 2 },
            first.adminKey,
          );
          expect(r.status).toBe(200);
          acked.push(r.body.decisionId as string);
        }
        const count = blocker.prepare("SELECT count(*) FROM decisions WHERE decision_id = ?").pluck();
        expect(acked.filter((id) => count.get(id) === 1)).toEqual([]); // none committed
        await killHard(first.child);
      } finally {
        blocker.prepare("ROLLBACK").run();
        blocker.close();
      }
      const second = await startServerProcess(dir, port);
      try {
        for (const id of acked) {
          const res = await fetch(`${second.url}/v1/decisions/${id}`, {
            headers: { authorization: `Bearer ${second.adminKey}` },
          });
          expect(res.status, `decision ${id}`).toBe(200);
        }
      } finally {
        await killHard(second.child);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
