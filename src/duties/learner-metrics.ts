import { Gauge, type Registry } from "prom-client";
import type { EngineMetrics } from "../app/metrics.js";

/** What a learner duty reports while it holds its lease (per policy; a standby reports nothing). */
export interface LearnerStatus {
  applied: number;
  openWindows: number;
  published?: number;
  checkpointBytes: number;
}

/**
 * The learner duties' gauges on the worker's /metrics, labelled by policy: entries applied, open reward
 * windows, the last checkpoint's size and the last published snapshot version. Read at scrape time from the
 * duties that hold their lease. One set per metrics registry (several duties, one worker).
 */
const sources = new WeakMap<Registry, Map<string, () => LearnerStatus | undefined>>();

export function reportLearner(metrics: EngineMetrics, policyId: string, status: () => LearnerStatus | undefined): void {
  let bySource = sources.get(metrics.registry);
  if (!bySource) {
    bySource = new Map();
    sources.set(metrics.registry, bySource);
    register(metrics.registry, bySource);
  }
  bySource.set(policyId, status);
}

function register(registry: Registry, bySource: Map<string, () => LearnerStatus | undefined>): void {
  const gauge = (name: string, help: string, read: (s: LearnerStatus) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ["policy"] as const,
      registers: [registry],
      collect(): void {
        this.reset();
        for (const [policy, status] of bySource) {
          const s = status();
          const value = s && read(s);
          if (value !== undefined) this.set({ policy }, value);
        }
      },
    });
  };
  gauge(
    "loopwise_learner_applied_entries",
    "Stream entries the learner of a policy applied (all holders)",
    (s) => s.applied,
  );
  gauge("loopwise_learner_open_windows", "Reward windows the learner of a policy holds open", (s) => s.openWindows);
  gauge("loopwise_learner_checkpoint_bytes", "Size of the learner's last checkpoint", (s) => s.checkpointBytes);
  gauge(
    "loopwise_learner_published_version",
    "The last policy snapshot version the learner published",
    (s) => s.published,
  );
}
