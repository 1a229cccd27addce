import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { EngineMetrics } from "./metrics.js";

/** A full GC on demand without starting the process with --expose-gc. */
function fullGc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

async function gaugeValue(metrics: EngineMetrics, name: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  return (await metric!.get()).values[0]?.value ?? Number.NaN;
}

describe("loopwise_nodejs_heap_live_bytes", () => {
  it("reports the heap a full GC left, which grows with what is kept alive", async () => {
    const metrics = new EngineMetrics().withProcessMetrics();
    fullGc();
    await new Promise((resolve) => setTimeout(resolve, 50)); // GC entries arrive after the collection
    const before = await gaugeValue(metrics, "loopwise_nodejs_heap_live_bytes");
    expect(before).toBeGreaterThan(0);
    const kept = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `kept-${i}` })); // ~20 MB live
    fullGc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await gaugeValue(metrics, "loopwise_nodejs_heap_live_bytes");
    expect(after - before).toBeGreaterThan(8 * 1024 * 1024);
    expect(after).toBeLessThanOrEqual(await gaugeValue(metrics, "loopwise_nodejs_heap_size_total_bytes"));
    expect(kept.length).toBe(200_000);
  });
});
