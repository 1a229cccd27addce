import { describe, expect, it } from "vitest";
import { warmRolloutExperiment } from "./warm-rollout.js";

/**
 * The loop for a new learning policy, end to end on the real engine: warm-started from the decision log at
 * registration (app/warm-start.ts), gated offline, then rolled out 10 → 50 → 100 % against an equal,
 * trained incumbent. It must be promoted (`npm run eval -- warm-rollout` also runs the cold start, which
 * the OPE gate rolls back before anyone sees it). ~1.5 min.
 */
describe("warm-rollout experiment", () => {
  it("promotes a warm-started learning candidate that equals the incumbent", { timeout: 600_000 }, async () => {
    const r = await warmRolloutExperiment({ warm: true, seed: 42, warmupDays: 1, rolloutDays: 3 });
    expect(r.warmStart?.rounds).toBeGreaterThan(10_000);
    expect(r.finalStatus).toBe("completed");
    expect(r.finalStage).toBe(100);
    expect(r.timeline.map((t) => t.stage)).toEqual([0, 10, 50, 100]);
    const candidate = r.arms.candidate?.trueCtr ?? 0;
    const incumbent = r.arms.incumbent?.trueCtr ?? 1;
    expect(candidate / incumbent).toBeGreaterThan(0.95);
  });
});
