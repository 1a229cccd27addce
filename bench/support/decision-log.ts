import type { Engine } from "../../src/app/engine.js";
import { simulateDecisions } from "../../src/ope/simulate-decisions.js";

/**
 * Fills an engine's decision log with `n` simulated decisions (5 candidates, 2 slots) ending two reward
 * windows before now, with their rewards, so every round is resolved for offline evaluation.
 */
export async function seedDecisionLog(engine: Engine, n: number): Promise<void> {
  const spacing = 50;
  const start = engine.clock.now() - 2 * engine.config.rewards.window - n * spacing;
  const chunk = 5000;
  for (let at = 0; at < n; at += chunk) {
    const sim = simulateDecisions({
      decisions: Math.min(chunk, n - at),
      candidates: 5,
      slots: 2,
      seed: 1 + at,
      start: start + at * spacing,
      spacing,
    });
    // Ids unique across chunks (the simulator numbers each chunk from 0).
    const rename = (id: string) => `${id}_${at}`;
    await Promise.all(sim.decisions.map((d) => engine.decisions.append({ ...d, decisionId: rename(d.decisionId) })));
    await Promise.all(
      sim.rewards.map((r) =>
        engine.decisions.addReward(
          { ...r, decisionId: rename(r.decisionId), rewardId: `${r.rewardId}_${at}` },
          engine.config.rewards.window,
        ),
      ),
    );
  }
}
