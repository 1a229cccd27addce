import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../server/start.js";

/** /metrics of a real server: Node's process metrics and the gauges read from the engine's state. */
let server: RunningServer;
const dataDir = mkdtempSync(join(tmpdir(), "loopwise-metrics-"));

beforeAll(async () => {
  server = await startServer({
    env: {},
    flags: { port: 0, host: "127.0.0.1", dataDir, logLevel: "silent" },
  });
});
afterAll(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function scrape(): Promise<string> {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminKey}` } });
  expect(res.status).toBe(200);
  return res.text();
}

function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("/metrics", () => {
  it("has Node's process metrics: CPU, memory, event-loop lag", async () => {
    const text = await scrape();
    expect(value(text, "loopwise_process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(value(text, "loopwise_process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(text).toMatch(/^loopwise_nodejs_eventloop_lag_p99_seconds \d/m);
  });

  it("counts open reward windows and the dashboard's tracked decisions, shows rollout stage and share, and the model's age", async () => {
    const { engine } = server;
    expect(value(await scrape(), "loopwise_learning_pending_windows")).toBe(0);
    expect(await scrape()).not.toMatch(/^loopwise_recommender_model_age_seconds/m);
    await engine.rank({ userId: "u1", candidates: [{ id: "a" }, { id: "b" }], slots: 1 });
    await engine.rank({ userId: "u2", candidates: [{ id: "a" }, { id: "b" }], slots: 1 });
    await engine.parts.policies.register({ id: "cand", type: "uniform" });
    const rollout = await engine.parts.rollouts!.start({
      candidate: "cand",
      incumbent: "default",
      stages: [10, 50, 100],
      opeGate: false,
    });
    await engine.tick(); // the controller's first tick starts the first stage (no offline gate here)
    const views = [
      ["s0", "a"],
      ["s0", "b"],
      ["s1", "a"],
      ["s1", "b"],
    ];
    await engine.ingestEvents({
      events: views.map(([session, itemId]) => ({ type: "view", userId: session, sessionId: session, itemId })),
    });
    const model = await engine.recommender!.train();

    const text = await scrape();
    expect(value(text, "loopwise_learning_pending_windows")).toBe(2);
    // The dashboard's fold holds the two decisions, each in its user's own session, for attribution.
    expect(value(text, 'loopwise_dashboard_tracked{kind="decisions"}')).toBe(2);
    expect(value(text, 'loopwise_dashboard_tracked{kind="sessions"}')).toBe(2);
    const labels = `rollout="${rollout.id}",candidate="cand",incumbent="default",status="running"`;
    expect(value(text, `loopwise_rollout_candidate_share{${labels}}`)).toBeCloseTo(0.1, 12);
    expect(value(text, `loopwise_rollout_stage{rollout="${rollout.id}",status="running"}`)).toBe(0);
    expect(value(text, `loopwise_rollouts{status="running"}`)).toBe(1);
    const age = value(text, `loopwise_recommender_model_age_seconds{version="${model.version}"}`);
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(600);
  });
});
