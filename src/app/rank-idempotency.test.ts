import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { LoopwiseError } from "../core/errors.js";
import { buildServer } from "../server/server.js";
import { createEngine, type Engine, type EngineOptions } from "./engine.js";

const candidates = Array.from({ length: 20 }, (_, j) => ({ id: `item-${j}`, features: { price: j } }));

describe("rank with a client decisionId", () => {
  const engines: Engine[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  const engineOn = async (dataDir: string, config?: EngineOptions["config"]) => {
    const engine = await createEngine({
      dataDir,
      ...(config ? { config } : {}),
      clock: new ManualClock(Date.UTC(2026, 10, 27, 12)),
      logger: pino({ level: "silent" }),
    });
    engines.push(engine);
    return engine;
  };

  for (const where of ["memory", "file (writer thread)"]) {
    it(`concurrent calls with one decisionId all answer the first decision, logged once (${where})`, async () => {
      let dataDir = ":memory:";
      if (where !== "memory") {
        dataDir = mkdtempSync(join(tmpdir(), "loopwise-idem-"));
        dirs.push(dataDir);
      }
      const engine = await engineOn(dataDir);
      // Different users and contexts: each call would rank differently if it were not the first one's decision.
      const responses = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          engine.rank({ userId: `u${i}`, context: { i }, candidates, slots: 5, decisionId: "same-id" }),
        ),
      );
      const stored = await engine.decisions.get("same-id");
      expect(stored).toBeDefined();
      const first = responses[0];
      for (const r of responses) expect(r).toEqual(first);
      expect(first?.ranking.map((s) => s.id)).toEqual(stored?.decision.slots.map((s) => s.itemId));
      expect(await engine.decisions.count()).toBe(1);
      const metrics = await engine.metrics.registry.metrics();
      expect(metrics).toMatch(/loopwise_log_writer_queued_writes 0/);
      expect(metrics).toMatch(/loopwise_log_writer_writes_total [1-9]/);
      // A later retry sees the same decision too.
      expect(await engine.rank({ userId: "u9", candidates, slots: 5, decisionId: "same-id" })).toEqual(first);
    });
  }

  it("journals only decisions whose id the server made (a client's id waits for the insert to decide), counted on /metrics", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "loopwise-journal-"));
    dirs.push(dataDir);
    const engine = await engineOn(dataDir);
    for (let i = 0; i < 3; i++) await engine.rank({ userId: `u${i}`, candidates, slots: 5 });
    await engine.rank({ userId: "u9", candidates, slots: 5, decisionId: "client-1" });
    const metrics = await engine.metrics.registry.metrics();
    expect(metrics).toMatch(/^loopwise_decision_journal_written_total 3$/m);
    expect(metrics).toMatch(/^loopwise_decision_journal_commit_failures_total 0$/m);
    await engine.close(); // commits what was journaled
    engines.splice(engines.indexOf(engine), 1);
    const reopened = await engineOn(dataDir);
    expect(await reopened.decisions.count()).toBe(4);
  });

  it("journals nothing with storage.decisionJournal false: every rank waits for its commit", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "loopwise-journal-off-"));
    dirs.push(dataDir);
    const engine = await engineOn(dataDir, { storage: { decisionJournal: false } });
    for (let i = 0; i < 3; i++) await engine.rank({ userId: `u${i}`, candidates, slots: 5 });
    expect(await engine.metrics.registry.metrics()).toMatch(/^loopwise_decision_journal_written_total 0$/m);
    expect(await engine.decisions.count()).toBe(3); // committed when each rank was answered
  });

  it("answers 503 with Retry-After when the log writer's queue is full", async () => {
    const engine = await engineOn(":memory:");
    engine.parts.decisions.append = () =>
      Promise.reject(new LoopwiseError("WRITE_QUEUE_FULL", "the log writer is behind"));
    const app = await buildServer(engine);
    try {
      const res = await app.inject({
        method: "POST",
        url: "/v1/rank",
        headers: { authorization: `Bearer ${engine.adminKey}` },
        payload: { userId: "u1", candidates },
      });
      expect(res.statusCode).toBe(503);
      expect(res.headers["retry-after"]).toBe("1");
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.json()).toMatchObject({ status: 503, code: "WRITE_QUEUE_FULL" });
    } finally {
      await app.close();
    }
  });
});
