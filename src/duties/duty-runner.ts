import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Clock } from "../core/clock.js";
import { LeaseKeeper } from "../stream/lease-keeper.js";
import type { LeaseStore } from "../stream/lease-store.js";
import type { Duty } from "./duty.js";

export interface DutyRunnerOptions {
  leases: LeaseStore;
  clock: Clock;
  logger: Logger;
  /** This worker's name in the leases (DutyContext.workerId). */
  holder: string;
  /** A lease lasts this long unrenewed (config workers.leaseTtl); the runner renews every ttl / 3. */
  ttlMs: number;
  /** Where the duty metrics go (the engine's registry); none: not exported. */
  registry?: Registry;
  /** Pause after a step that did not ask to be called again at once (default 25 ms). */
  idleMs?: number;
  /**
   * Longest pause after steps that found nothing to do (default 250 ms): the pause doubles from `idleMs` with each
   * idle step in a row and drops back at the first step that did work. An idle duty polled every 25 ms cost a
   * worker ~15% of a core and Redis 5% with no traffic at all (16 partitions read by each stream duty, a
   * PostgreSQL transaction by the rollout duty); the first entry after a quiet spell waits up to this long.
   */
  maxIdleMs?: number;
  /** How the step loop pauses (tests record the pauses; default: a real timer). */
  sleep?: (ms: number) => Promise<void>;
  /** Longest pause after repeated failures of one duty (default 30 s; doubling from idleMs). */
  maxBackoffMs?: number;
}

/** One duty and the state the runner keeps for it. */
interface Slot {
  duty: Duty;
  keeper: LeaseKeeper;
  /** Started (start resolved) and not stopped. */
  active: boolean;
  loop: Promise<void> | undefined;
  failures: number;
  /** After a failed start: no acquire before this time (the standby gets its chance meanwhile). */
  retryAt: number;
  /** Lease ticks of one slot never overlap (a slow start must not meet the next tick). */
  ticking: boolean;
  /** When the last acquire or renewal that kept the lease was sent (this runner's clock). */
  renewedAt: number;
  /** The longest step of this term (ms, this runner's clock): reported when the lease is lost. */
  longestStepMs: number;
  /** The pause after the next idle step (doubles while steps stay idle, up to `maxIdleMs`). */
  idlePauseMs: number;
}

/**
 * Runs worker duties under leases (issue 13): one LeaseKeeper a duty; "gained" → `start(token)`, while held →
 * `step(now)` in a loop, "lost" or close → `stop()`; leases are released on a clean shutdown so a standby takes
 * over at once. A step may resolve `true` to be called again at once (it had a full batch and more is waiting);
 * anything else (the Duty port's void) pauses `idleMs` first, so an idle duty never spins. One failing duty
 * never stops the others: its error is logged and counted, and it backs off (doubling, up to `maxBackoffMs`).
 *
 * **Renewal is not a step.** Leases are renewed by their own timer (every ttl / 3), never by a duty's step, so a
 * long asynchronous step (awaiting I/O) does not delay them; only a synchronous stretch on the event loop does
 * (a learner's full checkpoint was one: learner-checkpoint.ts now yields while it encodes). A step longer than
 * the renewal period is logged, every step's duration is in `loopwise_duty_step_seconds`, and a lease this
 * worker loses while it held the duty is counted (`loopwise_duty_leases_lost_total`) and logged with how long
 * since its last renewal and the term's longest step: a lease lost to a stall is told apart from a standby's
 * takeover after a crash.
 */
export class DutyRunner {
  private readonly slots: Slot[];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onCloses: (() => void)[] = [];
  private readonly idleMs: number;
  private readonly maxIdleMs: number;
  private readonly pause: (ms: number) => Promise<void>;
  private readonly maxBackoffMs: number;
  private readonly held?: Gauge<"duty">;
  private readonly steps?: Counter<"duty">;
  private readonly errors?: Counter<"duty">;
  private readonly leasesLost?: Counter<"duty">;
  private readonly stepSeconds?: Histogram<"duty">;

  constructor(
    duties: readonly Duty[],
    private readonly options: DutyRunnerOptions,
  ) {
    const { registry } = options;
    this.idleMs = options.idleMs ?? 25;
    this.maxIdleMs = Math.max(this.idleMs, options.maxIdleMs ?? 250);
    this.pause = options.sleep ?? sleep;
    this.slots = duties.map((duty) => this.slotOf(duty)); // after idleMs: a slot's first idle pause is it
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    if (registry) {
      const registers = [registry];
      this.held = new Gauge({
        name: "loopwise_duty_held",
        help: "1 while this worker holds the duty's lease",
        labelNames: ["duty"],
        registers,
      });
      this.steps = new Counter({
        name: "loopwise_duty_steps_total",
        help: "Steps a duty ran on this worker",
        labelNames: ["duty"],
        registers,
      });
      this.errors = new Counter({
        name: "loopwise_duty_errors_total",
        help: "Failed starts, steps and stops of a duty on this worker",
        labelNames: ["duty"],
        registers,
      });
      this.leasesLost = new Counter({
        name: "loopwise_duty_leases_lost_total",
        help: "Leases this worker lost while running the duty (not renewed in time, or a fenced write refused)",
        labelNames: ["duty"],
        registers,
      });
      this.stepSeconds = new Histogram({
        name: "loopwise_duty_step_seconds",
        help: "How long a duty's step took on this worker (a step near workers.leaseTtl / 3 delays nothing, one synchronous stretch that long does)",
        labelNames: ["duty"],
        buckets: [0.001, 0.01, 0.05, 0.25, 1, 2.5, 10],
        registers,
      });
      for (const { duty } of this.slots) this.held.set({ duty: duty.name }, 0);
    }
  }

  private slotOf(duty: Duty): Slot {
    const { leases, holder, ttlMs, clock } = this.options;
    return {
      duty,
      keeper: new LeaseKeeper(leases, duty.name, holder, ttlMs, clock),
      active: false,
      loop: undefined,
      failures: 0,
      retryAt: 0,
      ticking: false,
      renewedAt: 0,
      longestStepMs: 0,
      idlePauseMs: this.idleMs,
    };
  }

  /**
   * Adds duties found later (the learner of a policy registered since the worker started); a name already run
   * is ignored. They compete for their leases from the next tick.
   */
  add(duties: readonly Duty[]): void {
    for (const duty of duties) {
      if (this.closed || this.slots.some((s) => s.duty.name === duty.name)) continue;
      this.slots.push(this.slotOf(duty));
      this.held?.set({ duty: duty.name }, 0);
    }
  }

  /** The duties' names, in order. */
  get names(): string[] {
    return this.slots.map((s) => s.duty.name);
  }

  /** Whether this runner holds a duty's lease and has started it. */
  holds(name: string): boolean {
    const slot = this.slots.find((s) => s.duty.name === name);
    return slot?.active === true && slot.keeper.holds();
  }

  /** Ticks every lease every ttl / 3 (the first tick at once). Tests call `tick()` themselves instead. */
  start(): void {
    if (this.timer || this.closed) return;
    const period = Math.max(1, Math.floor(this.options.ttlMs / 3));
    this.timer = setInterval(() => void this.tick(), period);
    void this.tick();
  }

  /** One lease tick for every duty: acquire or renew, then start or stop the duty as the lease went. */
  async tick(): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.tickSlot(slot)));
  }

  private async tickSlot(slot: Slot): Promise<void> {
    if (this.closed || slot.ticking) return;
    if (!slot.keeper.token && this.options.clock.now() < slot.retryAt) return;
    slot.ticking = true;
    try {
      const sentAt = this.options.clock.now();
      const result = await slot.keeper.tick();
      if (result === "gained") slot.longestStepMs = 0;
      if (result === "gained" || result === "kept") slot.renewedAt = sentAt;
      if (result === "gained") await this.begin(slot);
      else if (result === "lost") {
        if (slot.active) this.leaseLost(slot, "not renewed in time", sentAt);
        await this.end(slot);
      } else if (result === "kept" && slot.active && !slot.loop) slot.loop = this.stepLoop(slot);
      this.held?.set({ duty: slot.duty.name }, slot.active ? 1 : 0);
    } finally {
      slot.ticking = false;
    }
  }

  private async begin(slot: Slot): Promise<void> {
    const token = slot.keeper.token as number;
    try {
      await slot.duty.start(token);
    } catch (err) {
      this.failed(slot, "start", err);
      // Let another worker try (it may reach what this one cannot) while this one waits out its backoff.
      slot.retryAt = this.options.clock.now() + this.backoff(slot);
      await slot.keeper.release();
      return;
    }
    if (this.closed) {
      await slot.duty.stop().catch((err: unknown) => this.failed(slot, "stop", err)); // closed while starting
      return;
    }
    this.options.logger.info({ duty: slot.duty.name, token }, "duty started: this worker holds its lease");
    slot.active = true;
    slot.loop = this.stepLoop(slot);
  }

  private async end(slot: Slot): Promise<void> {
    if (!slot.active) return;
    slot.active = false;
    await slot.loop;
    try {
      await slot.duty.stop();
    } catch (err) {
      this.failed(slot, "stop", err);
    }
    this.options.logger.info({ duty: slot.duty.name }, "duty stopped");
  }

  /** Steps while started and the lease is held by our own conservative view; the next tick decides the rest. */
  private async stepLoop(slot: Slot): Promise<void> {
    try {
      while (slot.active && !this.closed && slot.keeper.holds()) {
        const outcome = await this.timedStep(slot);
        if (outcome.ok) {
          await this.pause(this.pauseAfter(slot, outcome.more));
          continue;
        }
        this.failed(slot, "step", outcome.err);
        if (isLeaseLost(outcome.err)) {
          // A fenced write was refused: another worker holds the lease now. Stop at once and stand by.
          this.leaseLost(slot, "a fenced write was refused", this.options.clock.now());
          slot.active = false;
          await slot.duty.stop().catch((stopErr: unknown) => this.failed(slot, "stop", stopErr));
          await slot.keeper.release();
          this.held?.set({ duty: slot.duty.name }, 0);
          break;
        }
        await this.pause(this.backoff(slot));
      }
    } finally {
      slot.loop = undefined;
    }
  }

  /** No pause when the step asked for more; `idleMs` after work; after idle steps, doubling to `maxIdleMs`. */
  private pauseAfter(slot: Slot, outcome: unknown): number {
    if (outcome === true) return 0;
    if (outcome !== "idle") {
      slot.idlePauseMs = this.idleMs;
      return this.idleMs;
    }
    const pause = slot.idlePauseMs;
    slot.idlePauseMs = Math.min(this.maxIdleMs, pause * 2);
    return pause;
  }

  /** One step, its duration recorded whether it succeeded or threw. */
  private async timedStep(slot: Slot): Promise<{ ok: true; more: unknown } | { ok: false; err: unknown }> {
    const began = this.options.clock.now();
    try {
      const more: unknown = await slot.duty.step(began);
      slot.failures = 0;
      this.steps?.inc({ duty: slot.duty.name });
      return { ok: true, more };
    } catch (err) {
      return { ok: false, err };
    } finally {
      this.stepTook(slot, this.options.clock.now() - began);
    }
  }

  private stepTook(slot: Slot, ms: number): void {
    this.stepSeconds?.observe({ duty: slot.duty.name }, ms / 1000);
    slot.longestStepMs = Math.max(slot.longestStepMs, ms);
    const renewEveryMs = this.options.ttlMs / 3;
    if (ms > renewEveryMs) {
      this.options.logger.warn(
        { duty: slot.duty.name, stepMs: ms, renewEveryMs, ttlMs: this.options.ttlMs },
        "duty step took longer than the lease renewal period (a synchronous stretch that long delays renewals)",
      );
    }
  }

  private leaseLost(slot: Slot, why: string, at: number): void {
    this.leasesLost?.inc({ duty: slot.duty.name });
    this.options.logger.warn(
      {
        duty: slot.duty.name,
        why,
        sinceRenewalMs: at - slot.renewedAt,
        ttlMs: this.options.ttlMs,
        longestStepMs: slot.longestStepMs,
      },
      "duty lease lost while running it: stopping it (a standby takes over)",
    );
  }

  private failed(slot: Slot, what: string, err: unknown): void {
    slot.failures++;
    this.errors?.inc({ duty: slot.duty.name });
    this.options.logger.error({ err, duty: slot.duty.name, failures: slot.failures }, `duty ${what} failed`);
  }

  private backoff(slot: Slot): number {
    return Math.min(this.maxBackoffMs, this.idleMs * 2 ** Math.min(slot.failures, 20));
  }

  /** Stops every started duty and releases its lease, so a standby takes over without waiting for the ttl. */
  /** Runs `fn` when the runner closes (timers that feed it new duties). */
  onClose(fn: () => void): void {
    this.onCloses.push(fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const fn of this.onCloses.splice(0)) fn();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(
      this.slots.map(async (slot) => {
        await this.end(slot);
        await slot.keeper.release();
        this.held?.set({ duty: slot.duty.name }, 0);
      }),
    );
  }
}

/**
 * The duties' way of saying their fenced write was refused (learner: LeaseLostError; rollout duty: FencedOut):
 * the lease moved on, so this worker must stop the duty rather than retry.
 */
function isLeaseLost(err: unknown): boolean {
  return err instanceof Error && (err.name === "LeaseLostError" || err.name === "FencedOut");
}

/** A real pause (setImmediate for 0): the step loop must yield to the lease ticks and the HTTP server. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => (ms <= 0 ? setImmediate(resolve) : setTimeout(resolve, ms).unref()));
}
