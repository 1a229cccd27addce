import { describe, expect, it } from "vitest";
import type { RankResponse } from "../app/api-types.js";
import { loopbackOf, startDemo } from "./demo.js";
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
