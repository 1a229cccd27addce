import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
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
  const app = await buildServer(engine);
  open.push({ app, engine });
  return { app, engine, auth: { authorization: `Bearer ${engine.adminKey}` } };
}

/** A small seeded generator (mulberry32), so the driven sequence is the same on every run. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Expected {
  decisions: number;
  rewarded: number;
  sessions: number;
  conversions: number;
  revenue: number;
  perSession: Map<string, number>;
}

/**
 * The independent count: the test's own bookkeeping of what it sent, per series and minute, counted the
 * way docs/dashboard-api.md defines the metrics (not by the aggregator's code).
 */
class Ledger {
  readonly cells = new Map<string, Expected>();
  private readonly sessionStart = new Map<string, number>();

  cell(series: string, minute: number): Expected {
    const key = `${series}@${minute}`;
    let c = this.cells.get(key);
    if (!c) {
      c = { decisions: 0, rewarded: 0, sessions: 0, conversions: 0, revenue: 0, perSession: new Map() };
      this.cells.set(key, c);
    }
    return c;
  }
  decision(series: string[], session: string, at: number): void {
    const minute = Math.floor(at / MINUTE) * MINUTE;
    for (const s of series) {
      this.cell(s, minute).decisions++;
      if (!this.sessionStart.has(`${s}|${session}`)) {
        this.sessionStart.set(`${s}|${session}`, minute);
        this.cell(s, minute).sessions++;
      }
    }
  }
  rewarded(series: string[], at: number): void {
    for (const s of series) this.cell(s, Math.floor(at / MINUTE) * MINUTE).rewarded++;
  }
  purchase(series: string[], session: string, value: number): void {
    for (const s of series) {
      const start = this.sessionStart.get(`${s}|${session}`);
      if (start === undefined) continue;
      const c = this.cell(s, start);
      if (!c.perSession.has(session)) c.conversions++;
      c.perSession.set(session, (c.perSession.get(session) ?? 0) + value);
      c.revenue += value;
    }
  }
  total(series: string, from: number, to: number) {
    const t = { decisions: 0, rewarded: 0, sessions: 0, conversions: 0, revenue: 0 };
    for (const [key, c] of this.cells) {
      const [s, m] = key.split("@") as [string, string];
      if (s !== series || Number(m) < from || Number(m) >= to) continue;
      t.decisions += c.decisions;
      t.rewarded += c.rewarded;
      t.sessions += c.sessions;
      t.conversions += c.conversions;
      t.revenue += c.revenue;
    }
    return t;
  }
}

/** Drives decisions, rewards (some repeated) and purchases over `minutes` minutes; returns the ledger. */
async function drive(app: FastifyInstance, auth: Record<string, string>, clock: ManualClock, minutes: number) {
  const random = rng(42);
  const ledger = new Ledger();
  const sessionSeries = new Map<string, string[]>();
  for (let step = 0; step < minutes * 4; step++) {
    clock.advance(15_000);
    for (let k = 0; k < 6; k++) {
      const user = `u${Math.floor(random() * 12)}`;
      const session = `${user}-s${Math.floor(step / 6)}`;
      const res = await app.inject({
        method: "POST",
        url: "/v1/rank",
        headers: auth,
        payload: { userId: user, sessionId: session, candidates: [{ id: "a" }, { id: "b" }, { id: "c" }], slots: 2 },
      });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      const series = [`policy:${body.policy.id}`];
      if (body.rollout) series.push(`rollout:${body.rollout.id}:${body.rollout.arm}`);
      ledger.decision(series, `${user}|${session}`, clock.now());
      sessionSeries.set(`${user}|${session}`, series);
      if (random() < 0.35) {
        for (const rewardId of random() < 0.3 ? ["r1", "r2"] : ["r1"]) {
          const r = await app.inject({
            method: "POST",
            url: `/v1/decisions/${body.decisionId}/reward`,
            headers: auth,
            payload: { value: 1, rewardId: `${body.decisionId}-${rewardId}` },
          });
          expect(r.statusCode).toBe(200);
        }
        ledger.rewarded(series, clock.now());
      }
      if (random() < 0.15) {
        const value = Math.round(random() * 1000) / 10;
        const e = await app.inject({
          method: "POST",
          url: "/v1/events",
          headers: auth,
          payload: { events: [{ type: "purchase", userId: user, sessionId: session, itemId: "a", value }] },
        });
        expect(e.json().accepted).toBe(1);
        ledger.purchase(sessionSeries.get(`${user}|${session}`) ?? [], `${user}|${session}`, value);
      }
    }
  }
  return ledger;
}

async function series(app: FastifyInstance, auth: Record<string, string>, query: string) {
  const res = await app.inject({ method: "GET", url: `/v1/timeseries?${query}`, headers: auth });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe("GET /v1/timeseries", () => {
  it("answers per minute exactly what an independent count of the same decisions, rewards and purchases gives", async () => {
    const clock = new ManualClock(T0);
    const { app, auth } = await start(clock);
    const ledger = await drive(app, auth, clock, 5);
    const window = `from=${T0}&to=${T0 + 6 * MINUTE}&step=minute`;
    const ctr = await series(app, auth, `policy=default&metric=ctr&${window}`);
    const conversion = await series(app, auth, `policy=default&metric=conversion&${window}`);
    const revenue = await series(app, auth, `policy=default&metric=revenuePerSession&${window}`);
    expect(ctr.series[0].points).toHaveLength(6);
    for (let i = 0; i < 6; i++) {
      const m = T0 + i * MINUTE;
      const want = ledger.total("policy:default", m, m + MINUTE);
      expect(ctr.series[0].points[i]).toMatchObject({
        t: new Date(m).toISOString(),
        count: want.decisions,
        sum: want.rewarded,
      });
      expect(conversion.series[0].points[i]).toMatchObject({ count: want.sessions, sum: want.conversions });
      expect(revenue.series[0].points[i].sum).toBeCloseTo(want.revenue, 9);
      const point = ctr.series[0].points[i];
      if (want.decisions === 0) expect([point.value, point.interval]).toEqual([null, null]);
      else {
        expect(point.value).toBeCloseTo(want.rewarded / want.decisions, 12);
        expect(point.interval[0]).toBeGreaterThanOrEqual(0);
        expect(point.interval[1]).toBeLessThanOrEqual(1);
        expect(point.interval[0]).toBeLessThanOrEqual(point.value);
        expect(point.interval[1]).toBeGreaterThanOrEqual(point.value);
      }
    }
    const all = ledger.total("policy:default", T0, T0 + 6 * MINUTE);
    expect(all.decisions).toBe(120);
    expect(all.rewarded).toBeGreaterThan(0);
    expect(all.conversions).toBeGreaterThan(0);
    const hour = await series(
      app,
      auth,
      `policy=default&metric=revenuePerSession&from=${T0}&to=${T0 + 60 * MINUTE}&step=hour`,
    );
    expect(hour.series[0].points).toHaveLength(1);
    expect(hour.series[0].total.count).toBe(all.sessions);
    expect(hour.series[0].total.value).toBeCloseTo(all.revenue / all.sessions, 9);
  });

  it("charts both arms of a rollout, the lift between them, and its stage changes as markers", async () => {
    const clock = new ManualClock(T0);
    const { app, auth } = await start(clock);
    await app.inject({
      method: "POST",
      url: "/v1/policies",
      headers: auth,
      payload: { id: "eg", type: "epsilon-greedy" },
    });
    const created = await app.inject({
      method: "POST",
      url: "/v1/rollouts",
      headers: auth,
      payload: { candidate: "eg", incumbent: "default", stages: [50, 100], minHold: "30d", opeGate: false },
    });
    const id = created.json().id;
    expect((await app.inject({ method: "POST", url: `/v1/rollouts/${id}/advance`, headers: auth })).statusCode).toBe(
      200,
    );
    const ledger = await drive(app, auth, clock, 4);
    const window = `from=${T0}&to=${T0 + 5 * MINUTE}`;
    const ctr = await series(app, auth, `rollout=${id}&metric=ctr&${window}&step=hour`);
    const [cand, inc] = ctr.series;
    const c = ledger.total(`rollout:${id}:candidate`, T0, T0 + 5 * MINUTE);
    const i = ledger.total(`rollout:${id}:incumbent`, T0, T0 + 5 * MINUTE);
    expect(c.decisions + i.decisions).toBe(96);
    expect(c.decisions).toBeGreaterThan(10);
    expect(i.decisions).toBeGreaterThan(10);
    expect([cand.name, cand.policy, cand.total.count, cand.total.sum]).toEqual([
      "candidate",
      "eg",
      c.decisions,
      c.rewarded,
    ]);
    expect([inc.name, inc.policy, inc.total.count, inc.total.sum]).toEqual([
      "incumbent",
      "default",
      i.decisions,
      i.rewarded,
    ]);
    expect(ctr.lift.total.value).toBeCloseTo(c.rewarded / c.decisions / (i.rewarded / i.decisions) - 1, 9);
    const [low, high] = ctr.lift.total.interval;
    expect(low).toBeLessThan(ctr.lift.total.value);
    expect(high).toBeGreaterThan(ctr.lift.total.value);
    expect(low).toBeGreaterThan(-1);
    const stages = ctr.markers.filter((m: { kind: string }) => m.kind === "stage");
    expect(
      stages.map((m: { action: string; fromStage: number; toStage: number }) => [m.action, m.fromStage, m.toStage]),
    ).toEqual([["rollout.advance", 0, 50]]);
    expect(ctr.markers[0]).toMatchObject({ action: "rollout.create", actor: { name: "engine", scope: "admin" } });
  });

  it("keeps the minutes across a restart of the engine on the same data dir", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lw-timeseries-"));
    dirs.push(dir);
    const clock = new ManualClock(T0);
    const first = await start(clock, dir);
    const ledger = await drive(first.app, first.auth, clock, 2);
    const query = `policy=default&metric=conversion&from=${T0}&to=${T0 + 3 * MINUTE}&step=minute`;
    const before = await series(first.app, first.auth, query);
    const { app, engine } = open.pop() as { app: FastifyInstance; engine: Engine };
    await app.close();
    await engine.close();
    const second = await start(clock, dir);
    const after = await series(second.app, second.auth, query);
    expect(after.series).toEqual(before.series);
    const want = ledger.total("policy:default", T0, T0 + 3 * MINUTE);
    expect([after.series[0].total.count, after.series[0].total.sum]).toEqual([want.sessions, want.conversions]);
  });

  it("refuses bad queries with 400 naming the field, and unknown targets with 404", async () => {
    const clock = new ManualClock(T0);
    const { app, auth } = await start(clock);
    const get = (q: string) => app.inject({ method: "GET", url: `/v1/timeseries?${q}`, headers: auth });
    const cases: [string, string[]][] = [
      ["metric=ctr", ["query.policy", "query.rollout"]],
      ["policy=default&rollout=x", ["query.policy", "query.rollout"]],
      ["policy=default&metric=clicks", ["query.metric"]],
      ["policy=default&from=yesterday", ["query.from"]],
      ["policy=default&step=week", ["query.step"]],
      [`policy=default&from=${T0}&to=${T0 - MINUTE}`, ["query.from"]],
      [`policy=default&from=${T0 - 30 * 86_400_000}&to=${T0}&step=minute`, ["query.step"]],
      ["policy=default&color=red", ["query"]],
    ];
    for (const [q, paths] of cases) {
      const res = await get(q);
      expect(res.statusCode, q).toBe(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.json().errors.map((e: { path: string }) => e.path)).toEqual(paths);
    }
    expect((await get("policy=nope")).json().code).toBe("POLICY_NOT_FOUND");
    expect((await get("rollout=nope")).json().code).toBe("ROLLOUT_NOT_FOUND");
    const empty = await series(app, auth, "policy=default&metric=conversion");
    expect(empty.series[0].total).toEqual({ value: null, interval: null, count: 0, sum: 0 });
  });
});
