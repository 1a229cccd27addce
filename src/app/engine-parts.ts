import type { Logger } from "pino";
import type { PolicyRegistry } from "../bandit/policy-registry.js";
import type { PolicyStore } from "../bandit/policy-store.js";
import type { Clock } from "../core/clock.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { LogRetention } from "../decisions/log-retention.js";
import type { StreamAdapters } from "../duties/duty.js";
import type { Catalog } from "../events/catalog.js";
import type { EventLog } from "../events/event-log.js";
import type { FeatureStore } from "../features/feature-store.js";
import type { RolloutStore } from "../rollout/rollout-store.js";
import type { OpeGate } from "../rollout/rollout-types.js";
import type { LoopwiseConfig } from "./config.js";
import type { DashboardDuties } from "./dashboard-duties.js";
import type { EngineEvents } from "./engine-events.js";
import type { PendingEffects } from "./ingest-effects.js";
import type { LearningLoop } from "./learning.js";
import type { LogRetentionTimer } from "./log-retention-timer.js";
import type { EngineMetrics } from "./metrics.js";
import type { CandidateGenerator } from "./ports.js";
import type { RolloutController } from "./rollout-controller.js";
import type { StreamPublisher } from "./stream-publisher.js";

/** Everything a use-case may touch, chosen once by the composition root (createEngine). */
export interface EngineParts {
  config: LoopwiseConfig;
  clock: Clock;
  logger: Logger;
  metrics: EngineMetrics;
  events: EventLog;
  decisions: DecisionStore;
  catalog: Catalog;
  policies: PolicyRegistry;
  /** The registry's durable store (policy snapshots); worker duties checkpoint through it. */
  policyStore: PolicyStore;
  /** The rollouts' store itself (the rollout duty writes through its fence; the controller wraps it). */
  rolloutStore: RolloutStore;
  /** The OPE gate rollouts pass before serving anyone (the embedded controller's and the rollout duty's). */
  opeGate: OpeGate;
  learning: LearningLoop;
  /** Decisions, rewards and events as they become durable, for observers (the dashboard). */
  emitter: EngineEvents;
  /** Stored events whose feature update or reward join has not completed (app/ingest-effects.ts). */
  pendingEffects: PendingEffects;
  features?: FeatureStore;
  recommender?: CandidateGenerator;
  rollouts?: RolloutController;
  /** The dashboard's per-minute aggregates and audit timeline (app/dashboard-duties.ts). */
  dashboard?: DashboardDuties;
  /** The decision stream, leases and snapshots (in-process, or Redis for scale-out; app/stream-adapters.ts). */
  stream: StreamAdapters;
  /** Appends durable writes to `stream.stream` (API nodes); a no-op in the embedded mode. */
  publisher: StreamPublisher;
  /** The log's retention port (the `log-retention` duty runs it in scale-out). */
  logRetention: LogRetention;
  /** Embedded mode: runs retention from the engine's tick (app/log-retention-timer.ts). */
  retentionTimer?: LogRetentionTimer;
}
