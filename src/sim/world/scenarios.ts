import { DEFAULT_POLICY_SPEC } from "../../bandit/policy-types.js";
import { LoopwiseError, validationError } from "../../core/errors.js";
import { ownValue } from "../../core/own.js";
import { unknownKeys } from "../../core/unknown-keys.js";
import { parseOrThrow } from "../../core/validate.js";
import { type Scenario, type ScenarioInput, scenarioSchema } from "./scenario.js";

/**
 * Built-in scenarios. The rollout ones run the default rollout plan with one slot and two candidates per
 * request built so the candidate policy's true CTR is 1.1×, 1× or 0.9× the incumbent's (see pairedCandidates):
 * the incumbent is `baseline` (shows the shop's first candidate), the candidate `uniform` between the two
 * (`baseline` again, under another id, for the equal case: exactly equal by construction).
 */
/**
 * These shops send their two candidates with every request and their policies (`baseline`, `uniform`) never
 * read a recommender score, so the engine's session recommender has nothing to do: it is configured not to
 * retrain within the run, as a shop sending its own candidates would. (In memory the engine retrains on the
 * main thread over the whole event window, hourly by default: over a week that alone is O(days²) of the run's
 * CPU and changes nothing these scenarios measure.)
 */
const IDLE_RECOMMENDER = "365d";
/**
 * The default plan needs 1,000 decisions per arm at the 1% stage and holds each stage a day, so these shops
 * are large: 100,000 users (1% of them is 1,000 users) and 30,000 one-page sessions a day (300 a day reach the
 * candidate at 1%); a week is enough for a good candidate to reach 100%.
 *
 * Why each setting is what it is:
 * - `clicks.baseLogit` −1 (the incumbent's true CTR near 0.24 on the one slot, a prominent placement; the
 *   default world's is 0.11): the ctr guardrail rolls back when the always-valid upper bound of the relative
 *   lift is below −2 %, and a click rate's lift has variance (1 − p)/(p·n) per arm. At 0.11 a 10 % worse
 *   candidate has about 18,000 sessions by the end of the 50 % stage and is rolled back in only ~71 % of runs
 *   (a Monte Carlo of the plan on these counts; seed 42 was promoted in one run and rolled back in another).
 *   At 0.23 it is rolled back in ~99.6 % of those runs, within the same traffic, and the good one never is.
 * - `sessions.eventBatchSeconds` 30: the shop's tracker posts its events in batches, as browser trackers do.
 *   Both policies ignore features, so nothing here reads them fresh, and a batch is one request and one log
 *   transaction instead of one per event (events were half of the engine's log work in a profile). Clicks still
 *   arrive well within the 10-minute reward window.
 * - `engine.recommend.retrainEvery`: see IDLE_RECOMMENDER.
 * - `engine.dashboard.retention` 1 day: the run reads no dashboard series, and the dashboard's minutes are
 *   walked at every tick (14 days of minutes by default).
 */
const rolloutShop = {
  days: 7,
  users: { count: 100_000 },
  clicks: { baseLogit: -1 },
  sessions: {
    perDay: 30_000,
    meanPages: 1,
    slots: 1,
    candidates: 2,
    candidateMode: "paired",
    eventBatchSeconds: 30,
  },
  engine: { recommend: { retrainEvery: IDLE_RECOMMENDER }, dashboard: { retention: "1d" } },
} as const;
const incumbent = { id: "sim-incumbent", type: "baseline" };

/**
 * The OPE-gate shops: the default shop at 1,500 sessions a day; the incumbent serves alone for two days, so
 * the rollout's OPE gate reads a two-day log of exact propensities before the candidate serves anyone.
 * A short plan (12 h holds, 300 decisions per arm) lets the good candidate finish within the run.
 */
const gateShop = { days: 4, sessions: { perDay: 1500 } } as const;
const gatePlan = { stages: [10, 50, 100], minHold: "12h", minSamplePerArm: 300 };
const learner = DEFAULT_POLICY_SPEC;

export const builtinScenarios: Record<string, ScenarioInput> = {
  default: {
    name: "default",
    description: "A shop of 200 items in 8 categories and 2,000 users in 4 segments; the default policy serves.",
  },
  "rollout-good": {
    name: "rollout-good",
    description: "Rollout of a candidate whose true CTR is 10% above the incumbent's.",
    ...rolloutShop,
    rollout: { incumbent, candidate: { id: "sim-candidate", type: "uniform" }, ctrRatio: 1.1 },
  },
  "rollout-equal": {
    name: "rollout-equal",
    description: "Rollout of a candidate exactly as good as the incumbent.",
    ...rolloutShop,
    rollout: { incumbent, candidate: { id: "sim-candidate", type: "baseline" }, ctrRatio: 1 },
  },
  "rollout-bad": {
    name: "rollout-bad",
    description: "Rollout of a candidate whose true CTR is 10% below the incumbent's.",
    ...rolloutShop,
    rollout: { incumbent, candidate: { id: "sim-candidate", type: "uniform" }, ctrRatio: 0.9 },
  },
  "rollout-gate-bad": {
    name: "rollout-gate-bad",
    description:
      "The default policy's spec serves alone for 2 days, then a uniform candidate (far worse) is rolled out: the OPE gate rolls it back before it serves anyone.",
    ...gateShop,
    rollout: {
      incumbent: { id: "sim-incumbent", ...learner },
      candidate: { id: "sim-candidate", type: "uniform" },
      plan: gatePlan,
      startAfter: "2d",
    },
  },
  "rollout-gate-good": {
    name: "rollout-gate-good",
    description:
      "A uniform incumbent serves alone for 2 days, then the default policy's spec (a learner, far better once it learns) is rolled out: the OPE gate lets it start, and it is promoted.",
    ...gateShop,
    rollout: {
      incumbent: { id: "sim-incumbent", type: "uniform" },
      candidate: { id: "sim-candidate", ...learner },
      plan: gatePlan,
      startAfter: "2d",
    },
  },
};

/** A built-in scenario by name, or a scenario object (from a file), validated with defaults filled in. */
export function resolveScenario(source: string | ScenarioInput, overrides: ScenarioInput = {}): Scenario {
  let input: ScenarioInput;
  if (typeof source === "string") {
    const builtin = ownValue(builtinScenarios, source);
    if (!builtin) {
      throw new LoopwiseError(
        "NOT_FOUND",
        `unknown scenario "${source}"; built-in scenarios: ${Object.keys(builtinScenarios).join(", ")} (or pass a JSON file)`,
      );
    }
    input = builtin;
  } else {
    input = source;
  }
  const merged = deepMerge(input, overrides);
  // A misspelt parameter (`sesions`) would silently simulate the default shop: refused with the near name.
  const unknown = unknownKeys(scenarioSchema, merged, "scenario");
  if (unknown.length > 0) throw validationError(unknown);
  return parseOrThrow(scenarioSchema, merged, "scenario");
}

function deepMerge<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = Object.hasOwn(out, k) ? deepMerge(out[k], v) : v;
  return out as T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
