import { describe, expect, it } from "vitest";
import { MemoryMinuteStore } from "../app/dashboard-ports.js";
import { fencingMinuteStoreContract } from "../app/fencing-minute-store.contract.js";
import { type AggregatorLimits, emptyCounts, MINUTE_MS, type MinuteRow } from "../app/minute-aggregates.js";
import { ManualClock } from "../core/clock.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import { makeDecision } from "../decisions/test-fixtures.js";
import { FencedOut } from "../rollout/rollout-store.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import { encodeDecision } from "../storage/sqlite/decision-store-sqlite.js";
import type { StreamEntry } from "../stream/stream-entry.js";
import { createDashboardFoldDuty, DASHBOARD_FOLD_DUTY } from "./dashboard-fold.js";

const WINDOW = 10 * 60_000;
const START = Date.UTC(2026, 11, 6, 12);
const N = 400;
const TTL = 10_000;
const limits: AggregatorLimits = {
  retentionMs: 14 * 86_400_000,
  rewardHorizonMs: 2 * WINDOW,
  sessionTtlMs: 2 * 3_600_000,
  maxTracked: 100_000,
};

/**
 * Decision `i` of the test's traffic and the stream entries API nodes append for it, retries included: two
 * policies, a rollout's arms, deferred decisions (half activated later), rewards in the window, late, before
 * activation and retried (same id), a purchase (retried) naming the decision, and a re-appended decision.
 */
function traffic(i: number): { record: DecisionRecord; entries: StreamEntry[]; head: number; truth: Truth } {
  const t = START + i * 900;
  const deferred = i % 7 === 3;
  const activatedAt = deferred ? (i % 14 === 3 ? t + 1_000 : undefined) : t;
  const record = makeDecision({
    decisionId: `d${i}`,
    timestamp: t,
    userId: `u${i % 50}`,
    sessionId: `s${i}`,
    slots: [
      { position: 0, itemId: `x${i}a`, index: 0, propensity: 0.5, probabilities: [0.5, 0.5] },
      { position: 1, itemId: `x${i}b`, index: 1, propensity: 1, probabilities: [0, 1] },
    ],
    candidates: [{ id: `x${i}a` }, { id: `x${i}b` }],
    policy: { id: i % 3 === 0 ? "b" : "a", type: "uniform", version: 1 },
    activated: !deferred,
    ...(deferred ? {} : { activatedAt: t }),
    ...(i % 5 === 0 ? { rollout: { id: "ro", stage: 0.1, arm: i % 2 ? "candidate" : "incumbent" } } : {}),
  });
  const decision: StreamEntry = { kind: "decision", decision: encodeDecision(record) };
  const entries: StreamEntry[] = [decision];
  if (deferred && activatedAt !== undefined)
    entries.push({ kind: "activate", decisionId: record.decisionId, at: activatedAt });
  const head = entries.length; // the decision and its activation; then what may arrive much later
  if (i % 11 === 4) entries.push(decision); // a retried rank appended again
  const truth: Truth = { reward: undefined, purchase: i % 9 === 0 ? 30 : undefined };
  const reward = (id: string, value: number, receivedAt: number, itemId?: string): StreamEntry => ({
    kind: "reward",
    reward: {
      rewardId: id,
      decisionId: record.decisionId,
      value,
      type: "click",
      timestamp: receivedAt,
      receivedAt,
      source: "api",
      ...(itemId ? { itemId } : {}),
    },
    windowMs: WINDOW,
  });
  if (i % 4 === 1) {
    entries.push(reward(`r${i}`, 1, t + 2_000, `x${i}b`));
    if (activatedAt !== undefined) truth.reward = 1; // never activated: ignored
  } else if (i % 4 === 2) {
    entries.push(reward(`r${i}`, 1, (activatedAt ?? t) + WINDOW + 1)); // late
  } else if (i % 4 === 3) {
    const r = reward(`r${i}`, 0.5, t + 3_000);
    entries.push(r, r); // a retried reward: the same id twice
    if (activatedAt !== undefined) truth.reward = 0.5;
  }
  if (truth.purchase !== undefined) {
    const purchase: StreamEntry = {
      kind: "event",
      event: {
        eventId: `p${i}`,
        userId: record.userId,
        sessionId: `s${i}`,
        decisionId: record.decisionId,
        type: "purchase",
        value: 30,
        timestamp: t + 4_000,
      },
    };
    entries.push(purchase, purchase);
  }
  return { record, entries, head, truth };
}

interface Truth {
  reward: number | undefined;
  purchase: number | undefined;
}

/** The minutes counted straight from the traffic's truth (each decision its own session), not by the fold. */
function directCount(range: number[]): MinuteRow[] {
  const rows = new Map<string, MinuteRow>();
  for (const i of range) {
    const { record, truth } = traffic(i);
    const minute = Math.floor(record.timestamp / MINUTE_MS) * MINUTE_MS;
    const series = [`policy:${record.policy.id}`];
    if (record.rollout) series.push(`rollout:${record.rollout.id}:${record.rollout.arm}`);
    for (const s of series) {
      const key = `${s}@${minute}`;
      const r = rows.get(key) ?? { series: s, minute, ...emptyCounts() };
      rows.set(key, r);
      r.decisions++;
      r.sessions++;
      if (truth.reward !== undefined) {
        r.rewardedDecisions++;
        r.rewardCount++;
        r.rewardSum += truth.reward;
      }
      if (truth.purchase !== undefined) {
        r.conversions++;
        r.revenue += truth.purchase;
        r.revenueSq += truth.purchase ** 2;
      }
    }
  }
  return sorted([...rows.values()]);
}

function sorted(rows: MinuteRow[]): MinuteRow[] {
  return rows.sort((a, b) => a.series.localeCompare(b.series) || a.minute - b.minute);
}

/** The entries of the given decisions in time order, as several API nodes append them. */
function entriesOf(range: number[]): StreamEntry[] {
  return range.flatMap((i) => traffic(i).entries);
}

/** The decisions and activations only, or only what follows them (retries, rewards, purchases). */
function headsOf(range: number[]): StreamEntry[] {
  return range.flatMap((i) => {
    const t = traffic(i);
    return t.entries.slice(0, t.head);
  });
}
function tailsOf(range: number[]): StreamEntry[] {
  return range.flatMap((i) => {
    const t = traffic(i);
    return t.entries.slice(t.head);
  });
}

const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

function setup(options: { batch?: number; checkpointMs?: number } = {}) {
  const clock = new ManualClock(START + N * 900 + 60_000);
  const stream = createMemoryDecisionStream({ partitions: 4, clock });
  const leases = createMemoryLeaseStore(clock);
  const store = new MemoryMinuteStore();
  const duty = (workerId: string) =>
    createDashboardFoldDuty(
      { stream, clock, workerId },
      { store, limits, aggregation: "earliest", batch: options.batch ?? 1000, ...options },
    );
  const stepUntilCaughtUp = async (d: ReturnType<typeof duty>) => {
    // A step reads each partition's next batch; twice the entries' count of steps is more than enough.
    for (let k = 0; k < 200; k++) await d.step(clock.now());
  };
  return { clock, stream, leases, store, duty, stepUntilCaughtUp };
}

describe("the dashboard-fold duty (the cluster's per-minute aggregates)", () => {
  it("folds the stream into the stored minutes as a direct count of the traffic, despite retried appends", async () => {
    const s = setup();
    await s.stream.append(entriesOf(ids(0, N)));
    const duty = s.duty("w1");
    await duty.start((await s.leases.acquire(DASHBOARD_FOLD_DUTY, "w1", TTL)) as number);
    expect(await duty.step(s.clock.now())).toBeUndefined(); // it folded a batch
    await s.stepUntilCaughtUp(duty);
    expect(await duty.step(s.clock.now())).toBe("idle"); // nothing new, nothing due: the runner backs off
    const stored = sorted(await s.store.load(0));
    expect(stored).toEqual(directCount(ids(0, N)));
    // The traffic has what the test claims: several minutes, both policies and arms, rewards and purchases.
    expect(new Set(stored.map((r) => r.minute)).size).toBeGreaterThan(4);
    expect(new Set(stored.map((r) => r.series))).toEqual(
      new Set(["policy:a", "policy:b", "rollout:ro:candidate", "rollout:ro:incumbent"]),
    );
    const total = (f: keyof MinuteRow) =>
      stored.filter((r) => r.series.startsWith("policy:")).reduce((a, r) => a + Number(r[f]), 0);
    expect(total("decisions")).toBe(N);
    expect(total("rewardedDecisions")).toBeGreaterThan(100);
    expect(total("conversions")).toBe(ids(0, N).filter((i) => i % 9 === 0).length);
  });

  it("a standby takes over from the checkpoint without counting twice; the stale holder is fenced out", async () => {
    const s = setup({ batch: 40, checkpointMs: 3_600_000 });
    const split = 190; // inside a minute: the standby must add to the stored minute, not replace it
    await s.stream.append(entriesOf(ids(0, split)));
    const first = s.duty("w1");
    await first.start((await s.leases.acquire(DASHBOARD_FOLD_DUTY, "w1", TTL)) as number);
    await s.stepUntilCaughtUp(first); // checkpointed when caught up
    await s.stream.append(entriesOf(ids(split, N)));
    await first.step(s.clock.now()); // folds a batch it never checkpoints (not caught up, interval not passed)
    s.clock.advance(TTL + 1);
    const second = s.duty("w2");
    await second.start((await s.leases.acquire(DASHBOARD_FOLD_DUTY, "w2", TTL)) as number);
    await s.stepUntilCaughtUp(second);
    expect(sorted(await s.store.load(0))).toEqual(directCount(ids(0, N)));
    // The stale holder folds on from its own state, and its checkpoint is refused: nothing it counted is stored.
    let refused: unknown;
    for (let k = 0; k < 200 && refused === undefined; k++) {
      await first.step(s.clock.now()).catch((error: unknown) => {
        refused = error;
      });
    }
    expect(refused).toBeInstanceOf(FencedOut);
    expect(sorted(await s.store.load(0))).toEqual(directCount(ids(0, N)));
  });

  it("attributes after a takeover the rewards, purchases and retries of decisions folded before it", async () => {
    const s = setup({ batch: 40, checkpointMs: 0 }); // a checkpoint every step: a full, then many deltas
    const split = 230;
    await s.stream.append(headsOf(ids(0, split)));
    const first = s.duty("w1");
    await first.start((await s.leases.acquire(DASHBOARD_FOLD_DUTY, "w1", TTL)) as number);
    await s.stepUntilCaughtUp(first);
    expect((await s.store.loadAttribution(DASHBOARD_FOLD_DUTY)).length).toBeGreaterThan(2);
    // The first holder is gone; every reward, purchase and retried rank of its decisions arrives after that.
    s.clock.advance(TTL + 1);
    await s.stream.append([...tailsOf(ids(0, split)), ...entriesOf(ids(split, N))]);
    const second = s.duty("w2");
    await second.start((await s.leases.acquire(DASHBOARD_FOLD_DUTY, "w2", TTL)) as number);
    await s.stepUntilCaughtUp(second);
    expect(sorted(await s.store.load(0))).toEqual(directCount(ids(0, N)));
  });

  it("a takeover gives the minutes of an uninterrupted fold: sessions and purchases spanning it count once", async () => {
    const continued = (i: number): StreamEntry[] => {
      // A second decision in decision i's session a minute later, and a purchase naming the session only.
      const { record } = traffic(i);
      const again = { ...record, decisionId: `${record.decisionId}b`, timestamp: record.timestamp + 60_000 };
      const at = again.timestamp + 1_000;
      const purchase = { eventId: `q${i}`, userId: record.userId, sessionId: `s${i}`, type: "purchase" as const };
      return [
        { kind: "decision", decision: encodeDecision(again) },
        { kind: "event", event: { ...purchase, value: 7 + (i % 3), timestamp: at } },
        { kind: "event", event: { eventId: `v${i}`, userId: record.userId, type: "view", timestamp: at } },
      ];
    };
    const before = headsOf(ids(0, 250));
    const after = [
      ...tailsOf(ids(0, 250)),
      ...ids(0, 250)
        .filter((i) => i % 6 === 1)
        .flatMap(continued),
    ];
    const fold = async (takeover: boolean) => {
      const s = setup({ batch: 30, checkpointMs: 0 });
      await s.stream.append(before);
      const first = s.duty("w1");
      await first.start((await s.leases.acquire(DASHBOARD_FOLD_DUTY, "w1", TTL)) as number);
      await s.stepUntilCaughtUp(first);
      s.clock.advance(TTL + 1);
      await s.stream.append(after);
      let holder = first; // uninterrupted: the first holder folds on (no one else raised the fence)
      if (takeover) {
        holder = s.duty("w2");
        await holder.start((await s.leases.acquire(DASHBOARD_FOLD_DUTY, "w2", TTL)) as number);
      }
      await s.stepUntilCaughtUp(holder);
      return sorted(await s.store.load(0));
    };
    const [uninterrupted, takenOver] = [await fold(false), await fold(true)];
    expect(takenOver).toEqual(uninterrupted);
    const total = (f: keyof MinuteRow) =>
      uninterrupted.filter((r) => r.series.startsWith("policy:")).reduce((a, r) => a + Number(r[f]), 0);
    // Each continued session counted once, with both purchases in its first minute (what the test claims).
    expect(total("sessions")).toBe(250);
    expect(total("decisions")).toBe(250 + ids(0, 250).filter((i) => i % 6 === 1).length);
    expect(total("conversions")).toBe(ids(0, 250).filter((i) => i % 9 === 0 || i % 6 === 1).length);
  });

  it("resumes after a restart of the same worker from its own checkpoint (nothing twice, nothing lost)", async () => {
    const s = setup({ batch: 25 });
    await s.stream.append(entriesOf(ids(0, 110)));
    const first = s.duty("w1");
    const token = (await s.leases.acquire(DASHBOARD_FOLD_DUTY, "w1", TTL)) as number;
    await first.start(token);
    await s.stepUntilCaughtUp(first);
    await first.stop();
    await s.stream.append(entriesOf(ids(110, N / 2)));
    const again = s.duty("w1");
    await again.start((await s.leases.acquire(DASHBOARD_FOLD_DUTY, "w1", TTL)) as number);
    await s.stepUntilCaughtUp(again);
    expect(sorted(await s.store.load(0))).toEqual(directCount(ids(0, N / 2)));
  });
});

fencingMinuteStoreContract("memory", async () => new MemoryMinuteStore());
