import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PolicyRegistry } from "../bandit/policy-registry.js";
import { ManualClock } from "../core/clock.js";
import { simulateDecisions } from "../ope/simulate-decisions.js";
import { SqliteStore } from "../storage/sqlite/database.js";
import { SqliteDecisionStore } from "../storage/sqlite/decision-store-sqlite.js";
import { defaultPolicyResolver, evaluationRequestSchema, runEvaluation } from "./evaluate.js";
import { type IsolatedEvaluationContext, runEvaluationIsolated } from "./evaluate-isolated.js";

/** Issue 14, defect 6: evaluations run in a worker thread on a read-only connection, bounded in size and time. */
const joinConfig = { windowMs: 60_000, defaultReward: 0, aggregation: "earliest" as const };
let dir: string;
let store: SqliteStore;
let ctx: IsolatedEvaluationContext;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lw-eval-"));
  const dbPath = join(dir, "loopwise.db");
  store = new SqliteStore(dbPath);
  const decisions = new SqliteDecisionStore(store);
  const sim = simulateDecisions({ decisions: 400, candidates: 4, slots: 2, seed: 3 });
  for (const d of sim.decisions) await decisions.append(d);
  for (const r of sim.rewards) await decisions.addReward(r, joinConfig.windowMs);
  const clock = new ManualClock(Date.UTC(2027, 0, 1));
  const policies = await PolicyRegistry.open({ clock });
  await policies.register({ id: "eg", type: "epsilon-greedy", features: { dims: 1024 } });
  ctx = { dataDir: dir, dbPath, decisions, joinConfig, clock, policies, timeLimitMs: 60_000 };
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const request = {
  logs: "loopwise:",
  targets: ["policy:eg", '{"type":"softmax","features":{"dims":1024}}'],
  estimators: ["ips", "snips", "dm"],
  bootstrap: 20,
};

describe("evaluations in a worker thread", () => {
  it("give the same result as in this thread, with progress", async () => {
    const progress: number[] = [];
    const isolated = await runEvaluationIsolated(request, ctx, (f) => progress.push(f));
    const inThread = await runEvaluation(request, {
      decisions: ctx.decisions,
      joinConfig,
      clock: ctx.clock,
      resolvePolicy: defaultPolicyResolver(ctx.policies),
    });
    expect(isolated.targets.map((t) => t.target)).toEqual(["logging", "uniform", "policy:eg", "spec:softmax"]);
    expect(isolated.targets).toEqual(inThread.targets);
    expect(isolated.n).toBe(inThread.n);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(1);
  });

  it("stops a job past its time limit and fails it with the reason", async () => {
    await expect(
      runEvaluationIsolated({ ...request, bootstrap: 10_000 }, { ...ctx, timeLimitMs: 1 }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/time limit/) });
  });

  it("fails a job whose target names an unregistered policy before starting a worker", async () => {
    await expect(runEvaluationIsolated({ ...request, targets: ["policy:nope"] }, ctx)).rejects.toMatchObject({
      code: "POLICY_NOT_FOUND",
    });
  });

  it("applies the time limit in this thread too for an in-memory engine", async () => {
    await expect(
      runEvaluationIsolated({ ...request, bootstrap: 10_000 }, { ...ctx, dataDir: ":memory:", timeLimitMs: 0 }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/time limit/) });
  });
});

describe("per-job limits", () => {
  const issues = (body: unknown) => {
    const parsed = evaluationRequestSchema.safeParse(body);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("refuses too many targets, too many resamples, unknown estimators and oversized policy specs", () => {
    expect(issues({ logs: "loopwise:", bootstrap: 10_001 })).toEqual([expect.stringMatching(/^bootstrap/)]);
    expect(issues({ logs: "loopwise:", targets: Array(21).fill("uniform") })).toEqual([
      expect.stringMatching(/^targets: at most 20/),
    ]);
    expect(issues({ logs: "loopwise:", estimators: ["constructor"] })).toEqual([
      expect.stringMatching(/^estimators.0: unknown estimator/),
    ]);
    expect(issues({ logs: "loopwise:", rewardModel: "__proto__" })).toEqual([
      expect.stringMatching(/^rewardModel: unknown reward model/),
    ]);
    expect(issues({ logs: "loopwise:", targets: ['{"type":"thompson","features":{"dims":67108864}}'] })).toEqual([
      expect.stringMatching(/^targets.0: features: /),
    ]);
    expect(issues({ logs: "loopwise:", targets: ['learn:{"type":"constructor"}'] })).toEqual([
      expect.stringMatching(/^targets.0: unknown policy type "constructor"/),
    ]);
    expect(issues({ logs: "loopwise:", bootstrap: 10_000, targets: Array(20).fill("uniform") })).toEqual([]);
  });
});
