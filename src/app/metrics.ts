import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { BoundCounter } from "./bound-counter.js";
import { liveHeapBytes } from "./live-heap.js";

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

  /**
   * Node's process metrics (CPU seconds, resident memory, heap, event-loop lag, GC, handles), prefixed
   * `loopwise_` (`loopwise_process_cpu_seconds_total`, `loopwise_nodejs_eventloop_lag_p99_seconds`, ...).
   * Once per process: the server calls it; engines built in tests need not pay for the lag monitor.
   */
  withProcessMetrics(): this {
    collectDefaultMetrics({ register: this.registry, prefix: "loopwise_" });
    liveHeapBytes(); // starts observing full GCs now, so the first scrape after one has a value
    new Gauge({
      name: "loopwise_nodejs_heap_live_bytes",
      help: "Main heap in use right after the last full GC (what is live; heap_size_total is what V8 reserved)",
      registers: [this.registry],
      collect() {
        this.set(liveHeapBytes());
      },
    });
    return this;
  }

  // ---- State gauges, read at scrape time (issue 15): rollouts, reward windows, model age. ----

  /** Registers gauges that read the engine's state when /metrics is scraped (nothing to keep in step). */
  observeState(state: StateSources): this {
    const registers = [this.registry];
    /** Finished rollouts are counted by status, not listed one by one: a long history must not grow the scrape. */
    const active = async () => (await state.rollouts()).filter((r) => r.status === "running" || r.status === "paused");
    new Gauge({
      name: "loopwise_rollouts",
      help: "Rollouts by status (running, paused, completed, rolled_back, halted, aborted)",
      labelNames: ["status"] as const,
      registers,
      async collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const r of await state.rollouts()) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
        for (const [status, n] of counts) this.set({ status }, n);
      },
    });
    new Gauge({
      name: "loopwise_rollout_candidate_share",
      help: "Share of traffic served by each running or paused rollout's candidate policy, in [0, 1]",
      labelNames: ["rollout", "candidate", "incumbent", "status"] as const,
      registers,
      async collect() {
        this.reset();
        for (const r of await active()) {
          const labels = { rollout: r.id, candidate: r.candidate, incumbent: r.incumbent, status: r.status };
          this.set(labels, r.candidateShare);
        }
      },
    });
    new Gauge({
      name: "loopwise_rollout_stage",
      help: "Stage index of each running or paused rollout (0 = first stage; -1 before the offline-evaluation gate passed)",
      labelNames: ["rollout", "status"] as const,
      registers,
      async collect() {
        this.reset();
        for (const r of await active()) this.set({ rollout: r.id, status: r.status }, r.stageIndex);
      },
    });
    // Open reward windows: loopwise_learning_pending_windows above (the learning loop keeps it current).
    new Gauge({
      name: "loopwise_dashboard_tracked",
      help: "Decisions and sessions the dashboard's per-minute fold holds to attribute later rewards and purchases (each capped by dashboard.maxTracked)",
      labelNames: ["kind"] as const,
      registers,
      collect() {
        const tracked = state.dashboardTracked?.();
        if (!tracked) return;
        this.set({ kind: "decisions" }, tracked.decisions);
        this.set({ kind: "sessions" }, tracked.sessions);
      },
    });
    new Gauge({
      name: "loopwise_recommender_model_age_seconds",
      help: "Seconds since the serving recommender model was trained, by model version (absent while there is none)",
      labelNames: ["version"] as const,
      registers,
      collect() {
        this.reset();
        const model = state.model();
        if (model) this.set({ version: model.version }, Math.max(0, (state.now() - model.trainedAt) / 1000));
      },
    });
    return this;
  }
}

/** What the state gauges read (engine.ts wires them to the parts). */
export interface StateSources {
  now(): number;
  rollouts(): Promise<
    readonly {
      id: string;
      candidate: string;
      incumbent: string;
      status: string;
      stageIndex: number;
      candidateShare: number;
    }[]
  >;
  model(): { version: string; trainedAt: number } | undefined;
  /** What the dashboard's per-minute fold tracks (app/minute-aggregates.ts); absent: no gauge values. */
  dashboardTracked?(): { decisions: number; sessions: number };
}
