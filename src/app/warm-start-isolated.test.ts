import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy } from "../bandit/policy-types.js";
import { ManualClock } from "../core/clock.js";
import { simulateDecisions } from "../ope/simulate-decisions.js";
import { SqliteStore } from "../storage/sqlite/database.js";
import { SqliteDecisionStore } from "../storage/sqlite/decision-store-sqlite.js";
import { warmStart } from "./warm-start.js";
import { type IsolatedWarmStartContext, warmStartIsolated } from "./warm-start-isolated.js";

/** Issue 14, defect 6: a warm start trains in a worker thread and the trained copy is what serves. */
const joinConfig = { windowMs: 60_000, defaultReward: 0, aggregation: "earliest" as const };
const spec = { type: "epsilon-greedy", features: { dims: 1024 } };
let dir: string;
let store: SqliteStore;
let ctx: IsolatedWarmStartContext;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lw-warm-"));
  const dbPath = join(dir, "loopwise.db");
  store = new SqliteStore(dbPath);
  const decisions = new SqliteDecisionStore(store);
  const sim = simulateDecisions({ decisions: 300, candidates: 4, slots: 2, seed: 9 });
  for (const d of sim.decisions) await decisions.append(d);
  for (const r of sim.rewards) await decisions.addReward(r, joinConfig.windowMs);
  const clock = new ManualClock(Date.UTC(2027, 0, 1));
  ctx = { dataDir: dir, dbPath, decisions, joinConfig, clock, timeLimitMs: 60_000 };
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("warm starts in a worker thread", () => {
  it("return a trained copy equal to training in this thread", async () => {
    const given = createPolicy("w", spec);
    const { result, policy } = await warmStartIsolated(ctx, given);
    const local = createPolicy("w", spec);
    const expected = await warmStart(ctx, local);
    expect(result).toMatchObject({ decisions: expected.decisions, rounds: expected.rounds });
    expect(result.rounds).toBeGreaterThan(300);
    expect(policy).not.toBe(given);
    expect(given.updates).toBe(0); // the worker trained a copy
    expect(policy.updates).toBe(local.updates);
    const input = { context: { segment: "a" }, candidates: [{ id: "item0" }, { id: "item1" }, { id: "item2" }] };
    expect(Array.from(policy.distribution(input, []))).toEqual(Array.from(local.distribution(input, [])));
  });

  it("stop a warm start past its time limit", async () => {
    await expect(warmStartIsolated({ ...ctx, timeLimitMs: 1 }, createPolicy("w", spec))).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringMatching(/time limit/),
    });
  });
});
