import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { createMemoryLeaseStore } from "../storage/memory/lease-store-memory.js";
import type { Duty } from "./duty.js";
import { DutyRunner } from "./duty-runner.js";

const logger = pino({ level: "silent" });
const TTL = 9_000;

/** A duty that records what the runner asked of it. */
function recordingDuty(name: string, behaviour: { failSteps?: number; failStart?: boolean } = {}) {
  const calls: string[] = [];
  let failSteps = behaviour.failSteps ?? 0;
  const duty: Duty & { calls: string[]; steps: () => number } = {
    name,
    calls,
    steps: () => calls.filter((c) => c === "step").length,
    async start(token) {
      calls.push(`start:${token}`);
      if (behaviour.failStart) throw new Error("cannot restore");
    },
    async step() {
      calls.push("step");
      if (failSteps > 0) {
        failSteps--;
        throw new Error("step failed");
      }
    },
    async stop() {
      calls.push("stop");
    },
  };
  return duty;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(check()).toBe(true);
}

function runner(
  duties: Duty[],
  leases: ReturnType<typeof createMemoryLeaseStore>,
  clock: ManualClock,
  holder: string,
  log = logger,
) {
  const registry = new Registry();
  const r = new DutyRunner(duties, { leases, clock, logger: log, holder, ttlMs: TTL, idleMs: 1, registry });
  return { runner: r, metrics: () => registry.metrics() };
}

describe("the duty runner", () => {
  it("waits longer after each idle step, up to maxIdleMs, and drops back to idleMs at the first step that did work", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const outcomes = ["idle", "idle", "idle", "idle", "idle", "work", "idle", "idle"] as const;
    let steps = 0;
    const duty: Duty = {
      name: "learner:p",
      async start() {},
      async step() {
        return (outcomes[steps++] ?? "idle") === "idle" ? "idle" : undefined;
      },
      async stop() {},
    };
    const pauses: number[] = [];
    const r = new DutyRunner([duty], {
      leases,
      clock,
      logger,
      holder: "w1",
      ttlMs: TTL,
      idleMs: 2,
      maxIdleMs: 10,
      sleep: async (ms) => {
        pauses.push(ms);
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    await r.tick();
    await until(() => pauses.length >= outcomes.length);
    await r.close();
    // 2, 4, 8, then capped at 10; the step that worked pauses idleMs and restarts the doubling.
    expect(pauses.slice(0, outcomes.length)).toEqual([2, 4, 8, 10, 10, 2, 2, 4]);
  });

  it("one worker holds a duty and steps it, the other stands by and takes over with a larger token", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const dutyA = recordingDuty("stream-trim");
    const dutyB = recordingDuty("stream-trim");
    const a = runner([dutyA], leases, clock, "worker-a");
    const b = runner([dutyB], leases, clock, "worker-b");
    await a.runner.tick();
    await b.runner.tick();
    expect(a.runner.holds("stream-trim")).toBe(true);
    expect(b.runner.holds("stream-trim")).toBe(false);
    await until(() => dutyA.steps() >= 3);
    expect(dutyA.calls[0]).toBe("start:1");
    expect(dutyB.calls).toEqual([]);
    expect(await a.metrics()).toMatch(/loopwise_duty_held\{duty="stream-trim"\} 1/);
    expect(await b.metrics()).toMatch(/loopwise_duty_held\{duty="stream-trim"\} 0/);

    // Worker a stops ticking (a crash, a pause): past the ttl the standby acquires and starts with a new token.
    clock.advance(TTL / 2);
    await b.runner.tick();
    expect(dutyB.calls).toEqual([]);
    clock.advance(TTL / 2 + 1);
    await b.runner.tick();
    expect(b.runner.holds("stream-trim")).toBe(true);
    expect(dutyB.calls[0]).toBe("start:2");
    await until(() => dutyB.steps() >= 1);
    // a's own view has lapsed: it steps no more, and its next tick is refused and stops the duty.
    expect(a.runner.holds("stream-trim")).toBe(false);
    await a.runner.tick();
    expect(dutyA.calls.at(-1)).toBe("stop");
    expect(await a.metrics()).toMatch(/loopwise_duty_held\{duty="stream-trim"\} 0/);
    expect(await b.metrics()).toMatch(/loopwise_duty_steps_total\{duty="stream-trim"\} [1-9]/);
    await a.runner.close();
    await b.runner.close();
    expect(dutyB.calls.at(-1)).toBe("stop");
    expect(await leases.current("stream-trim")).toBeUndefined(); // released on a clean shutdown
  });

  it("a clean shutdown releases the lease, so the standby takes over at its next tick", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const a = runner([recordingDuty("trainer")], leases, clock, "worker-a");
    const dutyB = recordingDuty("trainer");
    const b = runner([dutyB], leases, clock, "worker-b");
    await a.runner.tick();
    await b.runner.tick();
    await a.runner.close();
    await b.runner.tick();
    expect(dutyB.calls[0]).toBe("start:2");
    await b.runner.close();
  });

  it("a failing duty is counted and backs off without stopping the others", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const flaky = recordingDuty("learner:default", { failSteps: 3 });
    const broken = recordingDuty("rollout-controller", { failStart: true });
    const healthy = recordingDuty("stream-trim");
    const a = runner([flaky, broken, healthy], leases, clock, "worker-a");
    await a.runner.tick();
    await until(() => flaky.steps() >= 5 && healthy.steps() >= 5);
    expect(a.runner.holds("rollout-controller")).toBe(false);
    expect(await leases.current("rollout-controller")).toBeUndefined(); // released for another worker to try
    const metrics = await a.metrics();
    expect(metrics).toMatch(/loopwise_duty_errors_total\{duty="learner:default"\} 3/);
    expect(metrics).toMatch(/loopwise_duty_errors_total\{duty="rollout-controller"\} 1/);
    // It retries after its backoff.
    await a.runner.tick();
    expect(broken.calls).toEqual(["start:1"]);
    clock.advance(60_000);
    await a.runner.tick();
    expect(broken.calls).toEqual(["start:1", "start:2"]);
    await a.runner.close();
  });

  it("runs a duty added later, and ignores a name it already runs", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const first = recordingDuty("stream-trim");
    const a = runner([first], leases, clock, "worker-a");
    const later = recordingDuty("learner:new");
    a.runner.add([later, recordingDuty("stream-trim")]);
    expect(a.runner.names).toEqual(["stream-trim", "learner:new"]);
    await a.runner.tick();
    expect(a.runner.holds("learner:new")).toBe(true);
    await until(() => later.steps() >= 1);
    await a.runner.close();
  });

  it("stops a duty whose fenced write was refused, frees its lease, and lets another worker take it", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const fenced = recordingDuty("rollout-controller");
    fenced.step = async () => {
      fenced.calls.push("step");
      const err = new Error("write refused: a newer holder has written");
      err.name = "FencedOut";
      throw err;
    };
    const a = runner([fenced], leases, clock, "worker-a");
    await a.runner.tick();
    await until(() => fenced.calls.includes("stop"));
    expect(fenced.calls.filter((c) => c === "step")).toHaveLength(1); // no retry after a refused write
    expect(a.runner.holds("rollout-controller")).toBe(false);
    expect(await leases.current("rollout-controller")).toBeUndefined();
    expect(await a.metrics()).toMatch(/loopwise_duty_leases_lost_total\{duty="rollout-controller"\} 1/);
    const standby = recordingDuty("rollout-controller");
    const b = runner([standby], leases, clock, "worker-b");
    await b.runner.tick();
    expect(standby.calls[0]).toBe("start:2");
    await a.runner.close();
    await b.runner.close();
  });

  it("a lease lost to a step that ran past its ttl is counted and logged with the longest step", async () => {
    const clock = new ManualClock();
    const leases = createMemoryLeaseStore(clock);
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const quick = recordingDuty("stream-trim");
    const stalling = recordingDuty("learner:p");
    let stalled = false;
    stalling.step = async () => {
      stalling.calls.push("step");
      if (!stalled) {
        stalled = true;
        clock.advance(TTL + 1); // one synchronous stretch longer than the lease (no renewal could run)
      }
    };
    const a = runner([quick, stalling], leases, clock, "worker-a", log);
    await a.runner.tick();
    await until(() => stalled && !a.runner.holds("learner:p") && quick.steps() >= 1);
    await a.runner.tick(); // the renewals come too late
    expect(stalling.calls.at(-1)).toBe("stop");
    const metrics = await a.metrics();
    expect(metrics).toMatch(/loopwise_duty_leases_lost_total\{duty="learner:p"\} 1/);
    expect(metrics).toMatch(/loopwise_duty_step_seconds_count\{duty="learner:p"\} [1-9]/);
    expect(metrics).toMatch(/loopwise_duty_step_seconds_bucket\{le="10",duty="learner:p"\} [1-9]/);
    const slow = lines.find((l) => l.duty === "learner:p" && typeof l.stepMs === "number");
    expect(slow).toMatchObject({ stepMs: TTL + 1, renewEveryMs: TTL / 3 });
    const lost = lines.find((l) => l.duty === "learner:p" && l.why === "not renewed in time");
    expect(lost).toMatchObject({ longestStepMs: TTL + 1, ttlMs: TTL });
    expect(lost!.sinceRenewalMs as number).toBeGreaterThan(TTL);
    // One event loop: a stretch that long costs every lease the worker held, the quick duty's too.
    expect(lines.some((l) => l.duty === "stream-trim" && l.why === "not renewed in time")).toBe(true);
    await a.runner.close();
  });
});
