import type { Clock } from "../core/clock.js";
import { LoopwiseError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { UserEvent } from "../core/types.js";
import type { RolloutDecisionEvent, TrackerLimits } from "../rollout/arm-tracker.js";
import { assignArm, type RolloutRoute } from "../rollout/assign-arm.js";
import { applyDecision } from "../rollout/decide-rollout.js";
import type { RolloutConfigInput } from "../rollout/rollout-config.js";
import { buildRolloutConfig } from "../rollout/rollout-config.js";
import type { RolloutStore } from "../rollout/rollout-store.js";
import { type LiveRollout, RolloutTicker, type TickResult } from "../rollout/rollout-ticker.js";
import type { Arm, AuditEntry, OpeGate, Rollout, RolloutStats } from "../rollout/rollout-types.js";
import type { RolloutRouter } from "./ports.js";
import { parseCreateRollout } from "./rollout-input.js";

export type { RolloutRoute } from "../rollout/assign-arm.js";
export type { TickResult } from "../rollout/rollout-ticker.js";

export interface RolloutControllerDeps {
  store: RolloutStore;
  clock: Clock;
  /** DR estimates of candidate and incumbent on recent logs; undefined result = logs do not suffice. */
  opeGate?: OpeGate;
  limits?: Partial<TrackerLimits>;
  newId?: (now: number) => string;
  /**
   * Called once when a rollout completes, e.g. to make the candidate the default policy. Without it, a
   * completed rollout keeps routing everyone to its candidate, so the promotion takes effect either way.
   */
  onPromote?: (rollout: Rollout) => Promise<void>;
  /** Whether a policy id is registered; when given, rollouts of unknown policies are refused. */
  isPolicy?: (id: string) => boolean;
  /** The policy rank serves by default now: the incumbent of a rollout started without one. */
  defaultPolicy?: () => string | undefined;
  /**
   * Scale-out (issue 13): an API node's router (app/rollout-follower.ts). Routing goes to it, this controller
   * never counts, ticks or saves counters (the rollout duty's lease holder does), and every admin use-case and
   * view reads the store afresh, so it acts on what the duty and the other nodes wrote.
   */
  follower?: RolloutRouter & {
    routeFor(policyId: string, userId: string): RolloutRoute | undefined;
    /** Reloads the router's copy (after an admin action here, so this node routes by it at once). */
    refresh(): Promise<void>;
  };
}

export interface CreateRolloutInput extends RolloutConfigInput {
  candidate: string;
  incumbent: string;
  /** Bucketing salt (Rollout.salt); the rollout's id when absent. */
  salt?: string;
}

/** A rollout's state as GET /v1/rollouts/{id} describes it (the use-case's result; the view is server/rollout-view.ts). */
export interface RolloutStatus {
  rollout: Rollout;
  /** Live counters while the controller tracks it (undefined once it ended: the history's last ones count). */
  live: RolloutStats | undefined;
  history: AuditEntry[];
  now: number;
}

/**
 * The rollouts' admin use-cases (create, view, pause, resume, advance, abort) and, in one process, their
 * counting and deciding: rank and ingest call the hooks (`onDecision`, `onEvent`) and a timer calls `tick()`,
 * which the shared core (rollout/rollout-ticker.ts) applies exactly as the rollout duty does from the stream.
 * Counters live in memory and what changed is saved to the store at every tick, so a new controller on the
 * same store resumes the same stage and numbers (losing at most one tick of events).
 */
export class RolloutController {
  private constructor(
    private readonly deps: RolloutControllerDeps,
    private readonly ticker: RolloutTicker,
  ) {}

  /** Opens a controller and resumes every rollout in progress from the store. */
  static async open(deps: RolloutControllerDeps): Promise<RolloutController> {
    const ticker = await RolloutTicker.open({
      reads: deps.store,
      writes: deps.store,
      clock: deps.clock,
      ...(deps.opeGate ? { opeGate: deps.opeGate } : {}),
      ...(deps.limits ? { limits: deps.limits } : {}),
      ...(deps.onPromote ? { onPromote: deps.onPromote } : {}),
    });
    return new RolloutController(deps, ticker);
  }

  /** After an admin write in follower mode: this node routes by it from its next request. */
  private async followed<T>(result: T): Promise<T> {
    await this.deps.follower?.refresh();
    return result;
  }

  /** The ticker to act on: this process's own, or (follower mode) one loaded from the store just now. */
  private async current(): Promise<RolloutTicker> {
    if (!this.deps.follower) return this.ticker;
    const { store, clock, opeGate, onPromote } = this.deps;
    return RolloutTicker.open({
      reads: store,
      writes: store,
      clock,
      deferStats: true, // the duty owns the counters: an admin action must not write its stale copy over them
      ...(opeGate ? { opeGate } : {}),
      ...(onPromote ? { onPromote } : {}),
    });
  }

  async create(input: CreateRolloutInput): Promise<Rollout> {
    const config = buildRolloutConfig(input);
    if (input.candidate === input.incumbent) {
      throw new LoopwiseError("VALIDATION_FAILED", "candidate and incumbent must differ", [
        { path: "candidate", message: "must differ from incumbent" },
      ]);
    }
    // A rollout of a policy that is not registered would serve the uniform fallback to its whole arm.
    const unknown = (["candidate", "incumbent"] as const).filter((arm) => this.deps.isPolicy?.(input[arm]) === false);
    if (unknown.length > 0) {
      const errors = unknown.map((arm) => ({
        path: arm,
        message: `policy "${input[arm]}" is not registered (POST /v1/policies)`,
      }));
      throw new LoopwiseError("VALIDATION_FAILED", errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors);
    }
    const now = this.deps.clock.now();
    const rollout: Rollout = {
      id: (this.deps.newId ?? ((t) => newId("ro", t)))(now),
      candidate: input.candidate,
      incumbent: input.incumbent,
      config,
      hashVersion: 1,
      ...(input.salt === undefined ? {} : { salt: input.salt }),
      status: "running",
      stageIndex: -1,
      candidateShare: 0,
      stageStartedAt: now,
      createdAt: now,
      updatedAt: now,
    };
    await (await this.current()).add(rollout, [{ code: "created", message: "rollout created" }]);
    return this.followed(rollout);
  }

  /** Validates an API body (POST /v1/rollouts: minHold as "24h", guardrails as numbers...) and creates. */
  async start(body: unknown): Promise<Rollout> {
    const { incumbent, ...request } = parseCreateRollout(body);
    const serving = incumbent ?? this.deps.defaultPolicy?.();
    if (serving === undefined) {
      const message = "required (there is no default policy to roll out against)";
      throw new LoopwiseError("VALIDATION_FAILED", `incumbent: ${message}`, [{ path: "incumbent", message }]);
    }
    return this.create({ ...request, incumbent: serving });
  }

  /**
   * Everything GET /v1/rollouts/{id} shows, as data: the rollout, its live counters, its history, and the time they
   * were read (server/rollout-view.ts shapes them: metrics, guardrails, SRM, next decision).
   */
  async status(id: string): Promise<RolloutStatus> {
    const ticker = await this.current();
    const rollout = ticker.live.get(id)?.rollout ?? (await this.getOrThrow(id));
    return { rollout, live: ticker.stats(id), history: await this.history(id), now: this.deps.clock.now() };
  }

  async get(id: string): Promise<Rollout | undefined> {
    if (this.deps.follower) return this.deps.store.get(id);
    return this.ticker.live.get(id)?.rollout ?? (await this.deps.store.get(id));
  }

  async getOrThrow(id: string): Promise<Rollout> {
    const r = await this.get(id);
    if (!r) throw new LoopwiseError("ROLLOUT_NOT_FOUND", `rollout ${id} not found`);
    return r;
  }

  async list(): Promise<Rollout[]> {
    const stored = await this.deps.store.list();
    if (this.deps.follower) return stored;
    return stored.map((r) => this.ticker.live.get(r.id)?.rollout ?? r);
  }

  async history(id: string): Promise<AuditEntry[]> {
    return this.deps.store.audit(id);
  }

  /** Current statistics of a rollout in progress (undefined once it ended: its counters are frozen in the audit log). */
  stats(id: string): RolloutStats | undefined {
    return this.ticker.stats(id);
  }

  /** Sticky assignment of a user in a rollout (deterministic: the same before and after a restart). */
  assign(rollout: Rollout, userId: string): { arm: Arm; bucket: number } {
    return assignArm(rollout, userId);
  }

  /**
   * For rank (the app's RolloutRouter port): the newest rollout that serves traffic (a stage in progress,
   * or completed: the candidate then serves everyone until it becomes the default policy).
   */
  route(userId: string, now?: number): RolloutRoute | undefined {
    if (this.deps.follower) return this.deps.follower.route(userId, now ?? this.deps.clock.now());
    return this.ticker.route(userId);
  }

  /** As `route`, among the rollouts whose incumbent is `policyId` (when several policies are rolled out). */
  routeFor(policyId: string, userId: string): RolloutRoute | undefined {
    if (this.deps.follower) return this.deps.follower.routeFor(policyId, userId);
    return this.ticker.route(userId, (r) => r.incumbent === policyId);
  }

  /** Hook: a decision rank served through a rollout. Ignored when the rollout is not in progress. */
  onDecision(d: RolloutDecisionEvent): void {
    if (this.deps.follower) return; // counted by the rollout duty from the exposure serving appended
    this.ticker.onDecision(d);
  }

  /** Hook: every ingested event (with its session id filled); attributed to the user's session arm, if any. */
  onEvent(event: UserEvent): void {
    if (this.deps.follower) return;
    this.ticker.onEvent(event);
  }

  /** Decides and applies, for every rollout in progress; saves counters. Returns each rollout's decision. */
  async tick(now: number = this.deps.clock.now()): Promise<TickResult[]> {
    if (this.deps.follower) return [];
    return this.ticker.tick(now);
  }

  async pause(id: string): Promise<Rollout> {
    const ticker = await this.current();
    const l = this.requireLive(ticker, id, ["running"]);
    return this.followed(await ticker.manual(l, { ...l.rollout, status: "paused" }, "pause", "paused by an admin"));
  }

  async resume(id: string): Promise<Rollout> {
    const ticker = await this.current();
    const l = this.requireLive(ticker, id, ["paused"]);
    return this.followed(await ticker.manual(l, { ...l.rollout, status: "running" }, "resume", "resumed by an admin"));
  }

  /** Moves to the next stage now (skipping the OPE gate, hold time and sample), or completes at 100 %. */
  async advance(id: string): Promise<Rollout> {
    const ticker = await this.current();
    const l = this.requireLive(ticker, id, ["running", "paused"]);
    const now = this.deps.clock.now();
    const next = applyDecision(l.rollout, { action: "advance", reasons: [] }, now);
    return this.followed(await ticker.manual(l, next, "manual_advance", "advanced by an admin"));
  }

  async abort(id: string): Promise<Rollout> {
    const ticker = await this.current();
    const l = this.requireLive(ticker, id, ["running", "paused"]);
    const aborted: Rollout = { ...l.rollout, status: "aborted", candidateShare: 0 };
    return this.followed(await ticker.manual(l, aborted, "abort", "aborted by an admin"));
  }

  /** Saves every rollout's counters now (the server calls this on shutdown). */
  async flush(): Promise<void> {
    if (this.deps.follower) return;
    await this.ticker.flush();
  }

  private requireLive(ticker: RolloutTicker, id: string, allowed: Rollout["status"][]): LiveRollout {
    const l = ticker.live.get(id);
    if (!l) throw new LoopwiseError("ROLLOUT_NOT_FOUND", `rollout ${id} not found or already ended`);
    if (!allowed.includes(l.rollout.status)) {
      throw new LoopwiseError("CONFLICT", `rollout ${id} is ${l.rollout.status}; expected ${allowed.join(" or ")}`);
    }
    return l;
  }
}
