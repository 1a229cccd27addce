import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RankResponse } from "../server/api-types.js";
import { startServer } from "../server/start.js";
import { loopbackOf, startDemo, startDemoOnServer, trainEarly } from "./demo.js";
import { sleep } from "./driver/scheduler.js";
import type { SimReport } from "./report.js";
import type { SimTarget } from "./target.js";

describe("startDemo", () => {
  it("drives a target in real time until stopped, then reports", async () => {
    let ranks = 0;
    const target: SimTarget = {
      kind: "fake",
      upsertItems: async (b) => ({ accepted: b.items.length, rejected: 0, results: [] }),
      ingestEvents: async (b) => ({
        accepted: b.events.length,
        duplicates: 0,
        rejected: 0,
        rewardsJoined: 0,
        results: [],
      }),
      rank: async (b): Promise<RankResponse> => {
        ranks++;
        return {
          decisionId: b.decisionId ?? "d",
          policy: { id: "default", type: "uniform", version: 1 },
          ranking: (b.candidates ?? []).slice(0, 2).map((c, position) => ({ id: c.id, position, probability: 0.1 })),
          candidateSource: "request",
          fallbacks: [],
          activated: true,
        };
      },
      reward: async (decisionId) => ({ decisionId, rewardId: "r", status: "accepted" }),
      registerPolicy: async (b) => ({ id: b.id ?? "p" }),
      close: async () => undefined,
    };
    let report: SimReport | undefined;
    const stop = await startDemo({ target, rate: 40, onReport: (r) => (report = r) });
    await sleep(400);
    await stop();
    expect(ranks).toBeGreaterThan(0);
    expect(report?.sessions).toBeGreaterThan(0);
    const after = ranks;
    await sleep(100);
    expect(ranks).toBe(after);
  });

  it("reaches a server bound to every interface through loopback", () => {
    expect(loopbackOf("http://0.0.0.0:8080")).toBe("http://127.0.0.1:8080");
    expect(loopbackOf("http://localhost:8080/")).toBe("http://localhost:8080");
  });
});

describe("trainEarly", () => {
  it("retries until a first model serves, then stops training", async () => {
    let model: { version: string } | undefined;
    let calls = 0;
    const recommender = {
      holder: { current: () => model },
      train: async () => {
        calls++;
        if (calls < 3) throw new Error("no sessions with 2 or more item events yet");
        model = { version: "m1" };
        return model;
      },
    };
    const logged: string[] = [];
    const stop = trainEarly(recommender, { info: (_o, msg) => logged.push(msg) }, 10);
    try {
      for (let i = 0; i < 200 && !model; i++) await sleep(10);
      await sleep(60);
    } finally {
      stop();
    }
    expect(model?.version).toBe("m1");
    expect(calls).toBe(3);
    expect(logged).toEqual(["demo: trained the first recommender model"]);
  });
});

describe("serve --demo on a real server", () => {
  it("starts the rollout, trains the recommender early and serves recommendations, not 503s", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "loopwise-demo-"));
    const server = await startServer({
      env: {},
      flags: { port: 0, host: "127.0.0.1", dataDir, logLevel: "silent", rewards: { window: "1m" } },
    });
    const auth = { authorization: `Bearer ${server.adminKey}` };
    const stop = await startDemoOnServer(server, { rate: 20, trainEveryMs: 200 });
    try {
      const deadline = Date.now() + 25_000;
      while (!server.engine.recommender?.holder.current() && Date.now() < deadline) await sleep(100);
      const overview = (await (await fetch(`${server.url}/v1/overview`, { headers: auth })).json()) as {
        model: { version: string } | null;
        totals: { decisions: number };
      };
      expect(overview.model?.version).toBeTruthy();
      expect(overview.totals.decisions).toBeGreaterThan(0);
      const recs = await fetch(`${server.url}/v1/users/any-user/recommendations?k=3`, { headers: auth });
      expect(recs.status).toBe(200);
      const rollouts = (await (await fetch(`${server.url}/v1/rollouts`, { headers: auth })).json()) as {
        rollouts: { candidate: string; status: string }[];
      };
      expect(rollouts.rollouts).toEqual([expect.objectContaining({ candidate: "demo-candidate", status: "running" })]);
    } finally {
      await stop();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
