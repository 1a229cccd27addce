import { describe, expect, it } from "vitest";
import { warmRolloutExperiment } from "./warm-rollout.js";

/**
 * The loop for a new learning policy, end to end on the real engine: warm-started from the decision log at
 * registration (app/warm-start.ts), gated offline, then rolled out 10 → 50 → 100 % against an equal,
 * trained incumbent, which it must be promoted over. A small shop and a short plan (600 sessions a day,
 * 12 h holds, 50 decisions per arm) keep it to seconds; `npm run eval -- warm-rollout` runs the full-size
 * experiment (3,000 sessions a day, 24 h holds, 500 per arm) warm and cold, with its pass/fail criteria.
 * A cold start here is rolled back (measured), so this fails if warm start stops training the candidate.
 */
describe("warm-rollout experiment", () => {
  it("promotes a warm-started learning candidate that equals the incumbent", async () => {
    const r = await warmRolloutExperiment({
      warm: true,
      seed: 42,
      warmupDays: 1,
      rolloutDays: 2,
      overrides: { users: { count: 2500 }, sessions: { perDay: 500 } },
      plan: { stages: [10, 50, 100], minHold: "12h", minSamplePerArm: 50 },
    });
    expect(r.warmStart?.rounds).toBeGreaterThan(1000);
    expect(r.finalStatus).toBe("completed");
    expect(r.finalStage).toBe(100);
    expect(r.timeline.map((t) => t.stage)).toEqual([0, 10, 50, 100]);
    const candidate = r.arms.candidate?.trueCtr ?? 0;
    const incumbent = r.arms.incumbent?.trueCtr ?? 1;
    expect(candidate / incumbent).toBeGreaterThan(0.8);
  });
});
