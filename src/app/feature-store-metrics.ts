import { Gauge, type Registry } from "prom-client";
import type { MemoryFeatureStore } from "../storage/memory/feature-store-memory.js";

/**
 * The memory feature store's bounds on /metrics, read when scraped: resident users (capped by
 * `features.maxUsers`), their estimated bytes (capped by `features.maxBytes`) and the users evicted so far
 * (by either cap or the idle TTL). A store near its byte cap evicts the least recently active users.
 */
export function registerFeatureStoreMetrics(registry: Registry, store: MemoryFeatureStore): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge("loopwise_feature_users", "Users resident in the memory feature store", () => store.size());
  gauge(
    "loopwise_feature_bytes",
    "Estimated bytes of the memory feature store (users' rows and window entries; capped by features.maxBytes)",
    () => store.bytes(),
  );
  gauge("loopwise_feature_evictions", "Users evicted from the memory feature store since start", () =>
    store.evictions(),
  );
}
