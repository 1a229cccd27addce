import { createServer } from "node:net";
import fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.js";
import { runSimulation } from "../driver/run-simulation.js";
import type { SimEventBody, SimRankBody } from "../target.js";
import { resolveScenario } from "../world/scenarios.js";
import { fakeRankAnswer } from "./fake-rank-answer.js";
import { createMultiNodeTarget } from "./multi-node-target.js";

interface Seen {
  /** Decision ids this node served. */
  served: Set<string>;
  /** Decision ids named by the events (rewards) this node received. */
  rewarded: string[];
  /** Requests this node refused with 503 before answering (the first `unavailable` ones). */
  refused: number;
}

/** A stand-in API node: ranks the first candidates; answers 503 with Retry-After to its first `unavailable` writes. */
async function fakeNode(unavailable: number): Promise<{ app: FastifyInstance; url: string; seen: Seen }> {
  const app = fastify();
  const seen: Seen = { served: new Set(), rewarded: [], refused: 0 };
  const refuse = (reply: {
    code: (n: number) => { header: (k: string, v: string) => { send: (b: unknown) => unknown } };
  }) => {
    seen.refused++;
    return reply.code(503).header("retry-after", "0").send({ code: "STORAGE_UNAVAILABLE", status: 503 });
  };
  app.post("/v1/events", async (req, reply) => {
    if (seen.refused < unavailable) return refuse(reply);
    const events = (req.body as { events: SimEventBody[] }).events;
    for (const e of events) if (e.decisionId) seen.rewarded.push(e.decisionId);
    return { accepted: events.length, duplicates: 0, rejected: 0, rewardsJoined: 0, results: [] };
  });
  app.post("/v1/rank", async (req) => {
    const b = req.body as SimRankBody;
    const decisionId = b.decisionId ?? "d";
    seen.served.add(decisionId);
    return fakeRankAnswer(b, decisionId);
  });
  app.post("/v1/items", async () => ({ accepted: 0, rejected: 0, results: [] }));
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { app, url, seen };
}

/** A loopback URL nobody listens on (the OS picked the port, then it was closed). */
function freePortUrl(): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(`http://127.0.0.1:${port}`));
    });
  });
}

const fastSessions = {
  meanPages: 2,
  thinkTimeSeconds: 0.01,
  clickDelaySeconds: 0.005,
  cartDelaySeconds: 0.005,
  purchaseDelaySeconds: 0.005,
};

describe("multi-node target", () => {
  let nodes: Awaited<ReturnType<typeof fakeNode>>[];
  beforeAll(async () => {
    nodes = [await fakeNode(2), await fakeNode(0)];
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.app.close()));
  });

  it("spreads a simulation over every node, sends every reward to a node that did not serve its decision, and retries 503s", async () => {
    const target = createMultiNodeTarget({ urls: nodes.map((n) => n.url), routing: "request" });
    const scenario = resolveScenario("default", { catalog: { items: 20 }, sessions: fastSessions });
    const report = await runSimulation({
      scenario,
      target,
      mode: "realtime",
      clock: systemClock,
      durationMs: 400,
      rate: 40,
      drainMs: 3000,
    });
    await target.close();
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    expect(report.requests.errors).toBe(0); // the 503s were retried, not reported
    expect(a.seen.refused).toBe(2);
    expect(a.seen.served.size).toBeGreaterThan(0);
    expect(b.seen.served.size).toBeGreaterThan(0);
    const rewarded = [...a.seen.rewarded, ...b.seen.rewarded];
    expect(rewarded.length).toBeGreaterThan(0);
    // No node ever received a reward for a decision it served itself.
    expect(a.seen.rewarded.filter((d) => a.seen.served.has(d))).toEqual([]);
    expect(b.seen.rewarded.filter((d) => b.seen.served.has(d))).toEqual([]);
    const stats = target.stats();
    expect(stats).toMatchObject({ retries: 2, rewardsUnrouted: 0 });
    expect(stats.rewardsToOtherNode).toBe(rewarded.length);
  });

  it("keeps a session on one node with session routing, and moves to the next node when one does not answer", async () => {
    const dead = await freePortUrl();
    const target = createMultiNodeTarget({ urls: [dead, nodes[1]!.url], routing: "session", maxRetryWaitMs: 10 });
    const before = nodes[1]!.seen.served.size;
    const candidates = [{ id: "x" }, { id: "y" }];
    for (let i = 0; i < 6; i++) {
      const ranked = await target.rank({ userId: "u", sessionId: `s${i}`, decisionId: `dead-${i}`, candidates });
      expect(ranked.decisionId).toBe(`dead-${i}`);
    }
    // Every rank reached the live node, those routed to the dead one after one retry each.
    expect(nodes[1]!.seen.served.size - before).toBe(6);
    const { requestsPerNode, retries } = target.stats();
    expect(requestsPerNode[0]).toBeGreaterThan(0);
    expect(retries).toBe(requestsPerNode[0]);
    expect(requestsPerNode[1]).toBe(6);
    await target.close();
  });
});
