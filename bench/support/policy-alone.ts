import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Engine } from "../../src/app/engine.js";
import type { BasePolicy } from "../../src/bandit/base-policy.js";
import { FEATURE_LAYERS, type PolicyCandidate, type PolicyInput } from "../../src/bandit/policy.js";
import { createPolicy, DEFAULT_POLICY_SPEC } from "../../src/bandit/policy-types.js";
import { Xoshiro128 } from "../../src/core/rng.js";
import { TailRecorder, type TailSummary } from "./policy-tail.js";

/**
 * The default policy's own rank (issue 12: "the default policy ranks 100x10 with fresh contexts at p99 <= 300 us"),
 * apart from the engine around it. The inputs are the engine's: each request body goes through `engine.rank`
 * (validation, catalog enrichment with its feature layers, recommender scores when it gives any), and the
 * PolicyInput its serving policy received is captured there, so the bench builds no input itself. A separate
 * policy of DEFAULT_POLICY_SPEC then ranks those inputs in a tight loop: a fresh user and context per call,
 * 1 in 10 calls rewarded (untimed), so its serving epochs advance as in traffic. It is first warmed by one
 * reward per request over `warm` requests so arms exist for most catalog items (a policy that has served
 * for a while). Inputs are captured in batches (memory stays bounded: ~30 KB an input) and each is ranked once.
 *
 * The capture itself disturbs what it measures: between two batches the engine ranks the batch's requests with its
 * own policy, model and log, which evicts this policy's working set from the caches, so the next calls run cold
 * (measured at stop 28 with batches of 100: p50 244 µs for a batch's first 3 calls, 183 for the next 7, 137-147
 * after). With batches of 100, a tenth of the calls were such calls, enough to move the p99. Batches are of 1,000
 * by default (`captureBatch`; ~30 MB of inputs), and the calls just after a capture are reported as a class of
 * their own (policy-tail.ts), so what the capture costs stays visible rather than dropped. A batch's inputs are
 * then moved out of the young generation by two scavenges before its calls (untimed): otherwise the first scavenge
 * inside the timed calls copies the bench's own inputs (7-10 ms pauses seen, charged to the policy). Not a full GC:
 * its concurrent sweeping runs on into the timed calls (tried: p99 0.75-1.1 ms with it). The policy's own
 * allocations still meet every scavenge they cause. Each call ranks a fresh copy of its captured input, made just
 * before it (untimed; the catalog's feature objects stay shared, as in the engine): the engine builds an input right
 * before its policy ranks it, while a captured input is up to a batch old and out of the caches (batches of 1,000
 * ranked as captured: p50 136-142 µs against 123-124 with batches of 100 in the same period).
 */
export interface PolicyAloneResult {
  rounds: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  /** Process CPU µs per rank call (rewards excluded: measured around each rank call). */
  cpuMean: number;
  /**
   * Percentiles of the CPU µs of single calls: on a loaded machine the wall tail is mostly the thread waiting for
   * a core, which CPU time leaves out (getrusage has µs resolution; GC helper threads are included).
   */
  cpuP50: number;
  cpuP99: number;
  arms: unknown;
  /** What the slow calls have in common (policy-tail.ts). */
  tail: TailSummary;
}

/** The Thompson policy's counters the tail classification reads (ThompsonInternals, read loosely: any checkout). */
interface ThompsonCounters {
  epoch?: number;
  noise?: { rowsDrawn: number };
}

/** Inputs captured per batch (see above). */
export const CAPTURE_BATCH = 1000;

type BodyOf = (i: number) => Record<string, unknown>;

/** Wraps the engine's serving policy so every rank call records its input; returns the captured list. */
function captureInputs(engine: Engine): PolicyInput[] {
  const parts = engine.parts;
  const id = parts.policies.defaultPolicyId ?? parts.config.rank.defaultPolicy;
  const served = parts.policies.get(id) as BasePolicy | undefined;
  if (!served) throw new Error(`the engine has no policy "${id}"`);
  const captured: PolicyInput[] = [];
  const rank = served.rank.bind(served);
  served.rank = (input, slots, rng) => {
    captured.push(input);
    return rank(input, slots, rng);
  };
  return captured;
}

/**
 * The input as app/rank-candidates.ts `enrichedCandidate` builds it, in new objects: a merged candidate's catalog
 * layer (one object per item version) is shared, its request layer, merged features, context and profile copied.
 */
function freshCopy(input: PolicyInput): PolicyInput {
  const candidates = input.candidates.map((c): PolicyCandidate => {
    const layers = c[FEATURE_LAYERS];
    if (layers === undefined) return { ...c };
    const overlay = { ...layers[1] };
    const features = Object.assign({}, layers[0], overlay);
    const copy: PolicyCandidate =
      c.score === undefined ? { id: c.id, features } : { id: c.id, features, score: c.score };
    copy[FEATURE_LAYERS] = [layers[0], overlay];
    return copy;
  });
  const context = { ...input.context };
  return input.profile === undefined ? { context, candidates } : { context, profile: { ...input.profile }, candidates };
}

/** Two of V8's minor GCs (survivors of two are promoted), reached without `--expose-gc` on node's command line. */
function promoteYoung(): void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (options: { type: "minor" }) => void;
  gc({ type: "minor" });
  gc({ type: "minor" });
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function policyAlone(
  engine: Engine,
  bodyOf: BodyOf,
  opts: { warm: number; rounds: number; slots: number; captureBatch?: number },
): Promise<PolicyAloneResult> {
  const captured = captureInputs(engine);
  const policy = createPolicy("bench-default", DEFAULT_POLICY_SPEC);
  const rng = new Xoshiro128(11);
  const times = new Float64Array(opts.rounds);
  const cpuTimes = new Float64Array(opts.rounds);
  const tail = new TailRecorder(opts.rounds);
  const counters = policy as unknown as ThompsonCounters;
  let lastEpoch = counters.epoch ?? 0;
  let epochAge = 0;
  let done = -opts.warm;
  while (done < opts.rounds) {
    captured.length = 0;
    const batch = Math.min(opts.captureBatch ?? CAPTURE_BATCH, opts.rounds - done);
    for (let b = 0; b < batch; b++) await engine.rank(bodyOf(done + opts.warm + b));
    promoteYoung();
    for (let position = 0; position < captured.length; position++) {
      // Built afresh (untimed) from the captured one, as the engine builds an input just before its policy ranks it.
      const input = freshCopy(captured[position]!);
      const warming = done < 0;
      const epoch = counters.epoch ?? 0;
      epochAge = epoch === lastEpoch ? epochAge + 1 : 0;
      lastEpoch = epoch;
      const rows0 = counters.noise?.rowsDrawn ?? 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const choices = policy.rank(input, opts.slots, rng);
      const t1 = performance.now();
      const cpu = process.cpuUsage(cpu0);
      if (!warming) {
        times[done] = (t1 - t0) * 1000;
        cpuTimes[done] = cpu.user + cpu.system;
        const rows = (counters.noise?.rowsDrawn ?? 0) - rows0;
        tail.record(done, t0, t1, cpu.user + cpu.system, epochAge, rows, position);
      }
      // Warm-up: a reward on a random candidate per request (arms for most items); then 1 in 10, on the first slot.
      if (warming || rng.next() < 0.1) {
        const index = warming ? Math.floor(rng.next() * input.candidates.length) : choices[0]!.index;
        const slot = choices.find((c) => c.index === index);
        policy.update({
          input,
          index,
          position: slot?.position ?? 0,
          reward: warming ? (rng.next() < 0.3 ? 1 : 0) : 1,
          propensity: slot?.propensity ?? 1,
          placedBefore: [],
        });
      }
      done++;
    }
  }
  const sorted = times.slice().sort();
  const cpuSorted = cpuTimes.slice().sort();
  return {
    rounds: opts.rounds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    mean: times.reduce((a, b) => a + b, 0) / opts.rounds,
    cpuMean: cpuTimes.reduce((a, b) => a + b, 0) / opts.rounds,
    cpuP50: percentile(cpuSorted, 0.5),
    cpuP99: percentile(cpuSorted, 0.99),
    arms: (policy.describe().params as Record<string, unknown>).arms,
    tail: await tail.finish(),
  };
}
