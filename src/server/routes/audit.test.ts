import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { openApiKeys } from "../../app/api-keys.js";
import { createEngine, type Engine } from "../../app/engine.js";
import { ManualClock, MINUTE } from "../../core/clock.js";
import { buildServer } from "../server.js";

const T0 = Date.UTC(2026, 0, 1, 12);
const open: { app: FastifyInstance; engine: Engine }[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const { app, engine } of open.splice(0)) {
    await app.close();
    await engine.close();
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(clock: ManualClock, dataDir = ":memory:") {
  const engine = await createEngine({ dataDir, clock, config: { logLevel: "silent" } });
  const keys = openApiKeys(":memory:");
  const alice = { authorization: `Bearer ${await keys.create("ops-alice", "admin")}` };
  const viewer = { authorization: `Bearer ${await keys.create("viewer", "read")}` };
  const app = await buildServer(engine, { keys });
  open.push({ app, engine });
  return { app, engine, alice, viewer };
}

type Entry = { seq: number; action: string; actor: { name: string | null; scope: string | null }; details: Details };
interface Details {
  fromStage?: number;
  toStage?: number;
  status?: string;
  previous?: string | null;
  reasons: { code: string }[];
  stats: { counters: Record<string, unknown> };
}

describe("the audit timeline", () => {
  it("records every admin action with the key's name, and the controller's decisions with their statistics", async () => {
    const clock = new ManualClock(T0);
    const { app, engine, alice, viewer } = await start(clock);
    const call = async (
      method: "POST" | "PUT",
      url: string,
      headers: Record<string, string>,
      payload?: Record<string, unknown>,
    ) => {
      clock.advance(1000);
      const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
      expect(res.statusCode, res.body).toBeLessThan(300);
      return res.json();
    };
    await call("POST", "/v1/policies", alice, { id: "eg", type: "epsilon-greedy", warmStart: true });
    await call("PUT", "/v1/policies/default", alice, { id: "uniform" });
    await call("PUT", "/v1/policies/default", alice, { id: "default" });
    const rollout = await call("POST", "/v1/rollouts", alice, {
      candidate: "eg",
      incumbent: "default",
      stages: [10, 100],
      minHold: "30d",
      opeGate: false,
    });
    clock.advance(MINUTE);
    await engine.tick(); // the controller passes the (disabled) gate: its own entry, actor "controller"
    for (let i = 0; i < 3; i++) {
      clock.advance(MINUTE);
      await engine.tick(); // holds for the minimum hold time: one entry, not one per tick
    }
    await call("POST", `/v1/rollouts/${rollout.id}/pause`, alice);
    await call("POST", `/v1/rollouts/${rollout.id}/resume`, alice);
    await call("POST", `/v1/rollouts/${rollout.id}/abort`, alice);
    const evaluation = await call("POST", "/v1/evaluations", alice, { logs: "loopwise:" });

    const res = await app.inject({ method: "GET", url: "/v1/audit", headers: viewer });
    expect(res.statusCode).toBe(200);
    const entries: Entry[] = res.json().entries;
    expect(entries.map((e) => [e.action, e.actor.name]).reverse()).toEqual([
      ["policy.warm_start", "ops-alice"],
      ["policy.make_default", "ops-alice"],
      ["policy.make_default", "ops-alice"],
      ["rollout.create", "ops-alice"],
      ["rollout.advance", "controller"],
      ["rollout.hold", "controller"],
      ["rollout.pause", "ops-alice"],
      ["rollout.resume", "ops-alice"],
      ["rollout.abort", "ops-alice"],
      ["evaluation.launch", "ops-alice"],
    ]);
    const auto = entries.find((e) => e.action === "rollout.advance") as Entry;
    expect(auto.details).toMatchObject({ fromStage: 0, toStage: 10, status: "running" });
    expect(auto.details.reasons.length).toBeGreaterThan(0);
    expect(auto.details.stats.counters.candidate).toHaveProperty("decisions");
    const hold = entries.find((e) => e.action === "rollout.hold") as Entry;
    expect(hold.details.reasons.map((r: { code: string }) => r.code)).toContain("min_hold");
    expect(entries.find((e) => e.action === "rollout.abort")?.details).toMatchObject({ toStage: 0, status: "aborted" });
    expect(entries[0]).toMatchObject({ target: { kind: "evaluation", id: evaluation.id } });
    expect(entries.find((e) => e.action === "policy.make_default")?.details).toEqual({ previous: "uniform" });

    // A read key sees the timeline but may not act.
    const refused = await app.inject({ method: "POST", url: `/v1/rollouts/${rollout.id}/pause`, headers: viewer });
    expect(refused.statusCode).toBe(403);
    expect((await app.inject({ method: "GET", url: "/v1/audit" })).statusCode).toBe(401);
  });

  it("pages newest first and filters by action family, actor and target", async () => {
    const clock = new ManualClock(T0);
    const { app, alice } = await start(clock);
    for (const id of ["p1", "p2", "p3", "p4", "p5"]) {
      clock.advance(1000);
      await app.inject({ method: "POST", url: "/v1/policies", headers: alice, payload: { id, type: "uniform" } });
    }
    await app.inject({ method: "PUT", url: "/v1/policies/default", headers: alice, payload: { id: "p3" } });
    const get = async (q: string) => {
      const res = await app.inject({ method: "GET", url: `/v1/audit?${q}`, headers: alice });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { entries: Entry[]; next: number | null };
    };
    const all = (await get("")).entries;
    expect(all).toHaveLength(6);
    const pages: Entry[] = [];
    let next: number | null = null;
    do {
      const page: { entries: Entry[]; next: number | null } = await get(
        `limit=4${next === null ? "" : `&before=${next}`}`,
      );
      pages.push(...page.entries);
      next = page.next;
    } while (next !== null);
    expect(pages.map((e) => e.seq)).toEqual(all.map((e) => e.seq));
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => b - a));
    expect((await get("action=policy.register")).entries).toHaveLength(5);
    expect((await get("action=policy")).entries).toHaveLength(6);
    expect((await get("action=rollout")).entries).toHaveLength(0);
    expect((await get("targetKind=policy&targetId=p3")).entries.map((e) => e.action)).toEqual([
      "policy.make_default",
      "policy.register",
    ]);
    expect((await get("actor=someone-else")).entries).toHaveLength(0);
    expect((await get(`from=${T0 + 2500}&to=${T0 + 4500}`)).entries).toHaveLength(2);
    for (const [q, path] of [
      ["limit=0", "query.limit"],
      ["action=Bad%20Action", "query.action"],
      ["targetKind=user", "query.targetKind"],
      ["before=-1", "query.before"],
      ["from=soon", "query.from"],
    ]) {
      const res = await app.inject({ method: "GET", url: `/v1/audit?${q}`, headers: alice });
      expect(res.statusCode, q).toBe(400);
      expect(res.json().errors[0].path).toBe(path);
    }
  });

  it("survives a restart of the engine on the same data dir", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lw-audit-"));
    dirs.push(dir);
    const clock = new ManualClock(T0);
    const first = await start(clock, dir);
    await first.app.inject({
      method: "POST",
      url: "/v1/policies",
      headers: first.alice,
      payload: { id: "kept", type: "uniform" },
    });
    const { app, engine } = open.pop() as { app: FastifyInstance; engine: Engine };
    await app.close();
    await engine.close();
    const second = await start(clock, dir);
    const res = await second.app.inject({ method: "GET", url: "/v1/audit", headers: second.viewer });
    expect(res.json().entries.map((e: Entry) => [e.action, e.actor.name])).toEqual([["policy.register", "ops-alice"]]);
  });
});
