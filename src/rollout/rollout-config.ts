import type { FieldError } from "../core/errors.js";
import { validationError } from "../core/errors.js";
import type { GuardrailConfig, GuardrailMetric, OpeGateConfig, RolloutConfig } from "./rollout-types.js";
import { DEFAULT_ROLLOUT_CONFIG, GUARDRAIL_METRICS } from "./rollout-types.js";

/** What a caller may set when starting a rollout; everything else takes DEFAULT_ROLLOUT_CONFIG. */
export interface RolloutConfigInput {
  stages?: number[];
  minHoldMs?: number;
  minSamplePerArm?: number;
  guardrails?: Partial<Record<GuardrailMetric, Partial<GuardrailConfig>>>;
  falseAlarmRate?: number;
  csTuningStderr?: number;
  minSessionsForTest?: number;
  minExpectedEvents?: number;
  srmPValue?: number;
  srmTest?: RolloutConfig["srmTest"];
  srmMinUsers?: number;
  /** `false` turns the gate off; an object sets its tolerance. */
  opeGate?: boolean | Partial<OpeGateConfig>;
}

/** Merges input over the defaults and checks the invariants decideRollout relies on. */
export function buildRolloutConfig(input: RolloutConfigInput = {}): RolloutConfig {
  const d = DEFAULT_ROLLOUT_CONFIG;
  const guardrails = {} as Record<GuardrailMetric, GuardrailConfig>;
  for (const m of GUARDRAIL_METRICS) guardrails[m] = { ...d.guardrails[m], ...input.guardrails?.[m] };
  const gate = input.opeGate;
  const opeGate: OpeGateConfig =
    typeof gate === "boolean" ? { ...d.opeGate, enabled: gate } : { ...d.opeGate, ...(gate ?? {}) };
  const config: RolloutConfig = {
    stages: input.stages ?? [...d.stages],
    minHoldMs: input.minHoldMs ?? d.minHoldMs,
    minSamplePerArm: input.minSamplePerArm ?? d.minSamplePerArm,
    guardrails,
    falseAlarmRate: input.falseAlarmRate ?? d.falseAlarmRate,
    csTuningStderr: input.csTuningStderr ?? d.csTuningStderr,
    minSessionsForTest: input.minSessionsForTest ?? d.minSessionsForTest,
    minExpectedEvents: input.minExpectedEvents ?? d.minExpectedEvents,
    srmPValue: input.srmPValue ?? d.srmPValue,
    srmTest: input.srmTest ?? d.srmTest,
    srmMinUsers: input.srmMinUsers ?? d.srmMinUsers,
    opeGate,
  };
  const errors = checkConfig(config);
  if (errors.length > 0) throw validationError(errors);
  return config;
}

function checkConfig(c: RolloutConfig): FieldError[] {
  const errors: FieldError[] = [];
  const bad = (path: string, message: string) => errors.push({ path, message });
  if (c.stages.length === 0) bad("stages", "at least one stage is required");
  c.stages.forEach((s, i) => {
    if (!(s > 0 && s <= 100)) bad(`stages[${i}]`, `expected a percentage in (0, 100], got ${s}`);
    const prev = c.stages[i - 1];
    if (prev !== undefined && s <= prev) bad(`stages[${i}]`, `stages must increase (${s} after ${prev})`);
  });
  if (!(c.minHoldMs >= 0)) bad("minHoldMs", "expected a non-negative duration");
  if (!(c.minSamplePerArm >= 0)) bad("minSamplePerArm", "expected a non-negative count");
  const unit = (path: string, v: number) => {
    if (!(v > 0 && v < 1)) bad(path, `expected a number in (0, 1), got ${v}`);
  };
  unit("falseAlarmRate", c.falseAlarmRate);
  unit("srmPValue", c.srmPValue);
  unit("csTuningStderr", c.csTuningStderr);
  for (const m of GUARDRAIL_METRICS) {
    const v = c.guardrails[m].maxRelativeDrop;
    if (!(v >= 0 && v < 1)) bad(`guardrails.${m}.maxRelativeDrop`, `expected a number in [0, 1), got ${v}`);
  }
  if (!(c.opeGate.tolerance >= 0)) bad("opeGate.tolerance", "expected a non-negative number");
  return errors;
}
