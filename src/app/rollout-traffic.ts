import type { ManualClock } from "../core/clock.js";
import { rngFor } from "../core/rng.js";
import type { UserEvent } from "../core/types.js";
import type { RolloutDecisionEvent } from "../rollout/arm-tracker.js";
import type { Arm } from "../rollout/rollout-types.js";
import type { RolloutRoute } from "./rollout-controller.js";

/**
 * A small user-level traffic generator for the rollout controller (tests, demo): users with a true click
 * probability per decision and conversion probability per session for each arm. It plays rank's part:
 * asks the controller for the route, reports the decision, then the user's clicks and purchase as events.
 * `route` can be replaced to simulate a broken assignment.
 */
export interface ArmTruth {
  ctr: number;
  conversion: number;
  /** Purchase value (revenue) of a converting session. */
  value: number;
}

export interface TrafficOptions {
  seed: string;
  users: number;
  sessionsPerStep: number;
  decisionsPerSession: number;
  incumbentPolicy: string;
  truth: Record<Arm, ArmTruth>;
  route?: (policyId: string, userId: string) => RolloutRoute | undefined;
}

/** Where the traffic goes: the embedded controller, or a test's tee into it and the decision stream. */
export interface RolloutTrafficSink {
  routeFor(policyId: string, userId: string): RolloutRoute | undefined;
  onDecision(d: RolloutDecisionEvent): void;
  onEvent(e: UserEvent): void;
}

export class RolloutTraffic {
  private readonly rng;
  private sessionSeq = 0;
  decisions = 0;

  constructor(
    private readonly controller: RolloutTrafficSink,
    private readonly clock: ManualClock,
    private readonly options: TrafficOptions,
  ) {
    this.rng = rngFor("rollout-traffic", options.seed);
  }

  /** Plays `sessionsPerStep` sessions spread over `stepMs`, then advances the clock by `stepMs`. */
  step(stepMs: number): void {
    const o = this.options;
    const start = this.clock.now();
    const route = o.route ?? ((p: string, u: string) => this.controller.routeFor(p, u));
    for (let i = 0; i < o.sessionsPerStep; i++) {
      const userId = `u${Math.floor(this.rng.next() * o.users)}`;
      const sessionId = `s${this.sessionSeq++}`;
      const t = start + Math.floor((i / o.sessionsPerStep) * stepMs);
      const r = route(o.incumbentPolicy, userId);
      if (!r) continue;
      const truth = o.truth[r.arm];
      for (let d = 0; d < o.decisionsPerSession; d++) {
        const decisionId = `${sessionId}-d${d}`;
        this.controller.onDecision({
          rolloutId: r.rolloutId,
          arm: r.arm,
          userId,
          sessionId,
          timestamp: t + d,
          decisionId,
        });
        this.decisions++;
        if (this.rng.next() < truth.ctr) {
          this.controller.onEvent({
            eventId: `${decisionId}-c`,
            type: "click",
            userId,
            sessionId,
            timestamp: t + d,
            decisionId,
          });
        }
      }
      if (this.rng.next() < truth.conversion) {
        const e = {
          eventId: `${sessionId}-p`,
          type: "purchase",
          userId,
          sessionId,
          timestamp: t + 10,
          value: truth.value,
        };
        this.controller.onEvent(e);
      }
    }
    this.clock.set(start + stepMs);
  }
}
