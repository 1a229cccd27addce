import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { BoundCounter } from "./bound-counter.js";

/**
 * The engine's Prometheus metrics, on a registry of its own (several engines in one test process must
 * not share counters). Names are prefixed `loopwise_`.
 */
export class EngineMetrics {
  readonly registry = new Registry();
  readonly decisions = new Counter({
    name: "loopwise_decisions_total",
    help: "Decisions served, by policy and candidate source",
    labelNames: ["policy", "source"] as const,
    collect: (): void => this.hot.decisions.flush(this.decisions),
    registers: [this.registry],
  });
  readonly fallbacks = new Counter({
    name: "loopwise_fallbacks_total",
    help: "Fallbacks used to serve a decision, by kind",
    labelNames: ["kind"] as const,
    collect: (): void => this.hot.fallbacks.flush(this.fallbacks),
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: "loopwise_events_total",
    help: "Events received, by outcome (accepted, duplicate, rejected)",
    labelNames: ["status"] as const,
    collect: (): void => this.hot.events.flush(this.events),
    registers: [this.registry],
  });
  readonly rewards = new Counter({
    name: "loopwise_rewards_total",
    help: "Rewards received, by outcome (accepted, late, duplicate, not_activated, unknown_decision) and source",
    labelNames: ["outcome", "source"] as const,
    collect: (): void => this.hot.rewards.flush(this.rewards),
    registers: [this.registry],
  });
  readonly joins = new Counter({
    name: "loopwise_join_outcomes_total",
    help: "Decision slots whose reward window closed, by join status (joined, defaulted)",
    labelNames: ["status"] as const,
    collect: (): void => this.hot.joins.flush(this.joins),
    registers: [this.registry],
  });
  readonly policyUpdates = new Counter({
    name: "loopwise_policy_updates_total",
    help: "Policy updates applied from rewards",
    labelNames: ["policy"] as const,
    collect: (): void => this.hot.policyUpdates.flush(this.policyUpdates),
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: "loopwise_http_requests_total",
    help: "HTTP requests by route, method and status code",
    labelNames: ["route", "method", "status"] as const,
    collect: (): void => this.hot.httpRequests.flush(this.httpRequests),
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: "loopwise_http_request_duration_seconds",
    help: "HTTP request latency by route and method",
    labelNames: ["route", "method"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  // --- Learning loop's pending state (app/learning.ts): what open reward windows hold, and early closes. ---
  readonly learningPendingWindows = new Gauge({
    name: "loopwise_learning_pending_windows",
    help: "Decisions inside their reward window held by the learning loop",
    registers: [this.registry],
  });
  readonly learningPendingBytes = new Gauge({
    name: "loopwise_learning_pending_bytes",
    help: "Estimated bytes the learning loop holds for open reward windows (capped by rewards.maxPendingBytes)",
    registers: [this.registry],
  });
  readonly learningWindowsClosedEarly = new Counter({
    name: "loopwise_learning_windows_closed_early_total",
    help: "Reward windows closed before their end because the pending state was over its limit, by limit (bytes, count)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  // --- end learning loop block ---

  // --- Pre-bound children of the request path's counters (bound-counter.ts), flushed into them when read. ---
  readonly hot = {
    decisions: new BoundCounter(["policy", "source"] as const),
    fallbacks: new BoundCounter(["kind"] as const),
    events: new BoundCounter(["status"] as const),
    rewards: new BoundCounter(["outcome", "source"] as const),
    joins: new BoundCounter(["status"] as const),
    policyUpdates: new BoundCounter(["policy"] as const),
    httpRequests: new BoundCounter(["route", "method", "status"] as const),
  };
  // --- end pre-bound children ---

  withProcessMetrics(): this {
    collectDefaultMetrics({ register: this.registry, prefix: "loopwise_" });
    return this;
  }
}
