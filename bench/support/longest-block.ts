import { createPolicy, DEFAULT_POLICY_SPEC } from "../../src/bandit/policy-types.js";
import { mainThreadTimes } from "./thread-cpu.js";

/** The longest event-loop block of some work: wall time, and the most main-thread CPU one block took. */
export interface LongestBlock {
  wallMs: number;
  cpuMs: number;
}

/**
 * Runs `work` (its synchronous part included) while a ticker measures the longest gap between event-loop
 * turns in wall time, and the most main-thread CPU one gap took (thread-cpu.ts; the machine is shared, so a wall
 * gap includes waiting for a core).
 */
export async function longestBlock(work: () => Promise<unknown>): Promise<LongestBlock> {
  let longest = { wallMs: 0, cpuMs: 0 };
  let last = performance.now();
  let lastCpu = mainThreadTimes()?.cpuNs ?? 0;
  let running = true;
  const turn = () => {
    const now = performance.now();
    const cpu = mainThreadTimes()?.cpuNs ?? 0;
    longest = { wallMs: Math.max(longest.wallMs, now - last), cpuMs: Math.max(longest.cpuMs, (cpu - lastCpu) / 1e6) };
    last = now;
    lastCpu = cpu;
  };
  const tick = () => {
    turn();
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await new Promise((resolve) => setTimeout(resolve, 5)); // the ticker is turning
  longest = { wallMs: 0, cpuMs: 0 };
  last = performance.now();
  lastCpu = mainThreadTimes()?.cpuNs ?? 0;
  await work();
  running = false;
  turn();
  return longest;
}

/** The default policy after one update on each of `arms` distinct items (an arm each, up to its maxArms). */
export function trainedDefaultPolicy(arms: number, id = "checkpoint") {
  const policy = createPolicy(id, DEFAULT_POLICY_SPEC);
  for (let i = 0; i < arms; i++) {
    const candidates = [{ id: `item-${i}`, features: { price: i % 50, discount: 0.1 } }];
    const input = { context: { device: i % 2 ? "mobile" : "desktop", hour: i % 24 }, candidates };
    policy.update({ input, index: 0, position: 0, reward: i % 3 === 0 ? 1 : 0, propensity: 0.5, placedBefore: [] });
  }
  return policy;
}
