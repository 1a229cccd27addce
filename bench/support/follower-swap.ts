import type { BasePolicy } from "../../src/bandit/base-policy.js";
import type { PolicyFeedback, PolicyInput } from "../../src/bandit/policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC, restorePolicy } from "../../src/bandit/policy-types.js";
import { Xoshiro128 } from "../../src/core/rng.js";

/**
 * Probe (issue 12 "no stalls" on issue 13's scale-out path): what one version swap of an API node's policy
 * follower costs on its event loop with the default policy at `arms` learned arms. "copy" is what the follower
 * did per published version with updates (`restorePolicy({ ...mirror.snapshot(), version })`); "in place" is
 * serving the mirror itself (`servedAs(version)`). A delta of 20 rewards is replayed before each swap (both
 * paths pay it; timed apart). Run: `node --import tsx bench/support/follower-swap.ts [arms...]`.
 */
function feedback(rng: Xoshiro128, item: number): PolicyFeedback {
  const input: PolicyInput = {
    context: { device: rng.next() < 0.5 ? "mobile" : "desktop", hour: Math.floor(rng.next() * 24) },
    candidates: Array.from({ length: 10 }, (_, j) => ({
      id: `item${(item + j * 7) % 100_000}`,
      features: { price: (item + j) % 50, brand: `b${(item + j) % 9}` },
    })),
  };
  return { input, index: 0, position: 0, reward: rng.next() < 0.3 ? 1 : 0, propensity: 0.1, placedBefore: [] };
}

function learned(arms: number, rng: Xoshiro128): BasePolicy {
  const policy = createPolicy("default", DEFAULT_POLICY_SPEC);
  for (let i = 0; i < arms; i++) policy.update(feedback(rng, i));
  return policy;
}

function ms(from: bigint): number {
  return Number(process.hrtime.bigint() - from) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function run(arms: number, swaps: number): void {
  const rng = new Xoshiro128(arms);
  const mirror = learned(arms, rng);
  const copy: number[] = [];
  const inPlace: number[] = [];
  const replay: number[] = [];
  let kept: BasePolicy | undefined;
  for (let v = 2; v < 2 + swaps; v++) {
    let t = process.hrtime.bigint();
    for (let k = 0; k < 20; k++) mirror.update(feedback(rng, Math.floor(rng.next() * arms)));
    replay.push(ms(t));
    // Alternate which path runs first, so neither always meets a warmer cache or a pending GC.
    const paths = [
      () => {
        t = process.hrtime.bigint();
        kept = restorePolicy({ ...mirror.snapshot(), version: v });
        copy.push(ms(t));
      },
      () => {
        t = process.hrtime.bigint();
        mirror.servedAs(v);
        inPlace.push(ms(t));
      },
    ];
    if (v % 2 === 1) paths.reverse();
    for (const p of paths) p();
  }
  const f = (x: number) => x.toFixed(3);
  console.log(
    `arms ${arms} (${mirror.describe().params ? "default policy" : ""}), ${swaps} swaps: copy median ${f(median(copy))} ms max ${f(Math.max(...copy))}; in place median ${f(median(inPlace))} ms max ${f(Math.max(...inPlace))}; replay of 20 rewards median ${f(median(replay))} ms; ratio ${(median(inPlace) / median(copy)).toExponential(2)}`,
  );
  if (kept?.version !== 1 + swaps) throw new Error("copy path did not run");
}

const sizes = process.argv.slice(2).map(Number);
for (const arms of sizes.length > 0 ? sizes : [500, 2000]) run(arms, 15);
