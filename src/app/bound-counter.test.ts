import { describe, expect, it } from "vitest";
import { EngineMetrics } from "./metrics.js";

describe("pre-bound counter children", () => {
  it("show exact totals at every read, label set by label set", async () => {
    const metrics = new EngineMetrics();
    const a = metrics.hot.decisions.child("default", "request");
    a.inc();
    a.inc();
    metrics.hot.decisions.child("uniform", "catalog").inc(3);
    const first = await metrics.registry.metrics();
    expect(first).toContain('loopwise_decisions_total{policy="default",source="request"} 2');
    expect(first).toContain('loopwise_decisions_total{policy="uniform",source="catalog"} 3');
    expect(metrics.hot.decisions.child("default", "request")).toBe(a);
    a.inc();
    const values = (await metrics.decisions.get()).values;
    expect(values.find((v) => v.labels.policy === "default")?.value).toBe(3);
    expect(await metrics.registry.metrics()).toContain('loopwise_decisions_total{policy="default",source="request"} 3');
  });
});
