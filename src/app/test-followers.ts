import { pino } from "pino";
import type { PolicyRegistry } from "../bandit/policy-registry.js";
import type { Clock } from "../core/clock.js";
import type { SnapshotStore } from "../stream/snapshot-store.js";
import { EngineMetrics } from "./metrics.js";
import { PolicyFollowers } from "./policy-follower.js";

/**
 * An API node's policy followers for tests: `registry` following `snapshots`, a silent logger, metrics of its
 * own unless given, and a staleness limit far enough off (60 s) that only a test that moves the clock meets it.
 * Every full it restores is decoded on the decoder's thread (`offThreadBytes` 0), the path a large policy takes.
 */
export function testFollowers(o: {
  snapshots: SnapshotStore;
  registry: PolicyRegistry;
  clock: Clock;
  metrics?: EngineMetrics;
  maxStalenessMs?: number;
  offThreadBytes?: number;
}): PolicyFollowers {
  return new PolicyFollowers({
    snapshots: o.snapshots,
    registry: o.registry,
    clock: o.clock,
    metrics: o.metrics ?? new EngineMetrics(),
    logger: pino({ level: "silent" }),
    maxStalenessMs: o.maxStalenessMs ?? 60_000,
    offThreadBytes: o.offThreadBytes ?? 0,
  });
}
