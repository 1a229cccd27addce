import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../app/config.js";
import { createEngine } from "../app/engine.js";
import { EngineMetrics } from "../app/metrics.js";
import type { PolicyStore } from "../bandit/policy-store.js";
import { ManualClock } from "../core/clock.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import { makeDecision } from "../decisions/test-fixtures.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { createMemorySnapshotStore } from "../storage/memory/snapshot-store-memory.js";
import { SqliteStore } from "../storage/sqlite/database.js";
import { SqliteDecisionStore } from "../storage/sqlite/decision-store-sqlite.js";
import { SqliteLogRetention } from "../storage/sqlite/log-retention-sqlite.js";
import type { DutyContext } from "./duty.js";
import { createLogRetentionDuty, LOG_RETENTION } from "./log-retention.js";

const DAY = 24 * 3_600_000;
const T0 = Date.UTC(2026, 10, 1);

function context(clock: ManualClock): DutyContext {
  return {
    config: parseConfig({ log: { retention: "31d", retentionEvery: "1h" } }),
    clock,
    logger: pino({ level: "silent" }),
    metrics: new EngineMetrics(),
    decisions: {} as DecisionStore,
    policies: {} as PolicyStore,
    workerId: "w1",
    stream: createMemoryDecisionStream({ partitions: 1, clock }),
    leases: createMemoryLeaseStore(clock),
    snapshots: createMemorySnapshotStore(),
  };
}

describe("the log-retention duty", () => {
  it("deletes what is older than the retention in bounded steps, once per retentionEvery, and reports it", async () => {
    const clock = new ManualClock(T0);
    const db = new SqliteStore(":memory:", { factsBlockSize: 1 }); // one block per decision: one step each
    try {
      const decisions = new SqliteDecisionStore(db);
      for (let i = 0; i < 30; i++) await decisions.append(makeDecision({ decisionId: `old${i}`, timestamp: T0 + i }));
      for (let i = 0; i < 3; i++)
        await decisions.append(makeDecision({ decisionId: `new${i}`, timestamp: T0 + 40 * DAY }));
      const ctx = context(clock);
      const duty = createLogRetentionDuty(ctx, new SqliteLogRetention(db.writer, db.db));
      expect(duty.name).toBe(LOG_RETENTION);
      clock.set(T0 + 45 * DAY);
      await duty.start(1);
      // 30 expired blocks: more than one step's budget, so the duty asks to be called again at once.
      expect(await duty.step(clock.now())).toBe(true);
      expect(await duty.step(clock.now())).toBe(false);
      expect(await decisions.count()).toBe(3);
      const metrics = await ctx.metrics.registry.metrics();
      expect(metrics).toContain('loopwise_log_retention_deleted_rows_total{table="decisions"} 30');
      expect(metrics).toContain(
        `loopwise_log_oldest_retained_timestamp_seconds{table="decisions"} ${(T0 + 40 * DAY) / 1000}`,
      );
      // Not due again before retentionEvery.
      await decisions.append(makeDecision({ decisionId: "later-old", timestamp: T0 }));
      await decisions.append(makeDecision({ decisionId: "seals-it", timestamp: T0 + 45 * DAY }));
      expect(await duty.step(clock.now())).toBe(false);
      expect(await decisions.get("later-old")).toBeDefined();
      clock.advance(3_600_000);
      expect(await duty.step(clock.now())).toBe(false);
      expect(await decisions.get("later-old")).toBeUndefined();
      await duty.stop();
    } finally {
      await db.close();
    }
  });
});

describe("embedded retention (the engine's tick)", () => {
  it("deletes expired events in the background and reports the oldest kept", async () => {
    const clock = new ManualClock(T0);
    const engine = await createEngine({
      dataDir: ":memory:",
      clock,
      logger: pino({ level: "silent" }),
      config: { log: { retention: "31d" } },
    });
    try {
      const events = (prefix: string) => ({
        events: [0, 1, 2].map((i) => ({ eventId: `${prefix}${i}`, type: "view", userId: "u", itemId: "a" })),
      });
      await engine.ingestEvents(events("old"));
      clock.advance(40 * DAY);
      await engine.ingestEvents(events("new"));
      await engine.tick();
      await engine.parts.retentionTimer?.idle();
      expect(await engine.parts.events.count()).toBe(3);
      const metrics = await engine.parts.metrics.registry.metrics();
      expect(metrics).toContain('loopwise_log_retention_deleted_rows_total{table="events"} 3');
      expect(metrics).toContain(`loopwise_log_oldest_retained_timestamp_seconds{table="events"} ${clock.now() / 1000}`);
    } finally {
      await engine.close();
    }
  });
});
