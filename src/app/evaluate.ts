import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { featuresSchema } from "../bandit/params.js";
import type { Policy } from "../bandit/policy.js";
import { createPolicy, parsePolicySpec, policyTypes, restorePolicy } from "../bandit/policy-types.js";
import type { Clock } from "../core/clock.js";
import { LoopwiseError } from "../core/errors.js";
import { parseOrThrow } from "../core/validate.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { JoinConfig } from "../decisions/join-config.js";
import { DEFAULT_ESTIMATORS, ESTIMATORS } from "../ope/estimators/registry.js";
import { canEvaluateColumns, type EvaluationResult, evaluateLog } from "../ope/evaluate-log.js";
import { type EvaluationLog, roundCount } from "../ope/logged-columns.js";
import { DEFAULT_REWARD_MODEL, REWARD_MODELS } from "../ope/reward-models/registry.js";
import { parseDsjson, readDsjsonFiles } from "../ope/sources/dsjson-source.js";
import { readDecisionColumns, readDecisionLog } from "../ope/sources/loopwise-source.js";
import { parseObdCsv } from "../ope/sources/obd-source.js";
import { parseSourceSpec } from "../ope/sources/source-spec.js";
import {
  learningTarget,
  loggingTarget,
  matrixTarget,
  parseProbabilityCsv,
  policyTarget,
  type TargetPolicy,
  uniformTarget,
} from "../ope/targets.js";
import { dsjsonFiles, fileLines } from "./dsjson-files.js";
import type { PolicyProvider } from "./ports.js";

/**
 * The evaluate use-case: read a log (Loopwise's decision log, an OBD CSV or a DSJSON file), resolve the
 * target policies, run the estimators. The CLI (`loopwise evaluate`) and `POST /v1/evaluations` both call
 * `runEvaluation` with a request validated by `evaluationRequestSchema`.
 */
/**
 * Per-job limits (issue 14): at most EVALUATION_LIMITS.targets targets (plus logging and uniform, always
 * there) and EVALUATION_LIMITS.bootstrap bootstrap resamples; a target's policy spec is bounded by the
 * policy spec maxima (bandit/params.ts SPEC_LIMITS). Estimators and the reward model are checked by name.
 */
export const EVALUATION_LIMITS = { targets: 20, bootstrap: 10_000, specChars: 8 * 1024 } as const;

export const evaluationRequestSchema = z.object({
  logs: z.string().min(1).max(4096),
  targets: z
    .array(
      z
        .string()
        .min(1)
        .max(EVALUATION_LIMITS.specChars)
        .superRefine((spec, ctx) => {
          const issue = targetSpecIssue(spec);
          if (issue) ctx.addIssue({ code: "custom", message: issue });
        }),
    )
    .max(EVALUATION_LIMITS.targets, `at most ${EVALUATION_LIMITS.targets} targets per evaluation`)
    .default([]),
  estimators: z
    .array(
      z.string().refine((name) => Object.hasOwn(ESTIMATORS, name), {
        message: `unknown estimator; available: ${Object.keys(ESTIMATORS).join(", ")}`,
      }),
    )
    .min(1)
    .max(Object.keys(ESTIMATORS).length)
    .default([...DEFAULT_ESTIMATORS]),
  rewardModel: z
    .string()
    .refine((name) => Object.hasOwn(REWARD_MODELS, name), {
      message: `unknown reward model; available: ${Object.keys(REWARD_MODELS).join(", ")}`,
    })
    .default(DEFAULT_REWARD_MODEL),
  clip: z.number().positive().optional(),
  switchLambda: z.number().nonnegative().optional(),
  bootstrap: z.number().int().min(0).max(EVALUATION_LIMITS.bootstrap).default(0),
  seed: z.number().int().default(0),
  alpha: z.number().gt(0).lt(1).default(0.05),
  folds: z.number().int().min(2).max(20).default(3),
});

export type EvaluationRequest = z.input<typeof evaluationRequestSchema>;

export interface EvaluateDeps {
  /** The decision log for `loopwise:` sources; absent means those sources are refused. */
  decisions?: DecisionStore;
  joinConfig: JoinConfig;
  clock: Clock;
  /** Resolves `policy:<id>` and JSON policy specs, given exactly as written in the target list. */
  resolvePolicy: (spec: string) => Policy;
  /** Reads a file named in the request (defaults to the file system). */
  readText?: (path: string) => Promise<string>;
}

/** Progress in [0, 1]: reading the log is the first half, the targets the second. */
export type ProgressListener = (fraction: number) => void;

export async function runEvaluation(
  request: EvaluationRequest,
  deps: EvaluateDeps,
  onProgress: ProgressListener = () => {},
): Promise<EvaluationResult> {
  const req = parseOrThrow(evaluationRequestSchema, request);
  const readText = deps.readText ?? ((path: string) => readFile(path, "utf8"));
  const targets = await resolveTargets(req.targets, deps.resolvePolicy, readText);
  // Loopwise's own log is read as columns when no target or reward model needs the context (same numbers).
  const columnar = canEvaluateColumns(targets, req);
  const log = await loadLog(req.logs, deps, readText, (f) => onProgress(0.5 * f), columnar);
  const options = {
    estimators: req.estimators,
    rewardModel: req.rewardModel,
    bootstrap: req.bootstrap,
    seed: req.seed,
    alpha: req.alpha,
    folds: req.folds,
    onProgress: async (f: number) => {
      onProgress(0.5 + 0.5 * f);
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
    ...(req.clip !== undefined ? { clip: req.clip } : {}),
    ...(req.switchLambda !== undefined ? { switchLambda: req.switchLambda } : {}),
  };
  if (roundCount(log) === 0) {
    throw new LoopwiseError("VALIDATION_FAILED", `no resolved rounds in ${log.source}: ${log.notes.join("; ")}`, [
      { path: "logs", message: "the log has no rounds with a resolved reward" },
    ]);
  }
  const result = await evaluateLog(log, targets, options);
  if (targets.some((t) => t.name.startsWith(LEARN_PREFIX))) {
    result.notes = [
      ...result.notes,
      "learn: targets learn from each logged decision before the next one; served online, rewards arrive after their window, so these estimates are slightly optimistic",
    ];
  }
  return result;
}

async function loadLog(
  spec: string,
  deps: EvaluateDeps,
  readText: (path: string) => Promise<string>,
  progress: (f: number) => void,
  columnar = false,
): Promise<EvaluationLog> {
  const source = parseSourceSpec(spec);
  if (source.kind === "obd") {
    const itemContext = await readText(join(dirname(source.path), "item_context.csv")).catch(() => undefined);
    const options = itemContext === undefined ? { source: source.path } : { source: source.path, itemContext };
    return parseObdCsv(await readText(source.path), options);
  }
  if (source.kind === "dsjson") {
    // A path on disk (no reader injected): a file or an export's folder, read line by line.
    if (!deps.readText) return readDsjsonFiles(dsjsonFiles(source.path), fileLines, source.path);
    return parseDsjson(await readText(source.path), { source: source.path });
  }
  if (!deps.decisions) throw new LoopwiseError("UNAVAILABLE", "no decision log is configured for loopwise: sources");
  const store = deps.decisions;
  const range = {
    ...(source.from !== undefined ? { from: source.from } : {}),
    to: source.to ?? closedWindowsEnd(deps),
  };
  const total = Math.max(1, await store.count(range));
  const read = columnar && store.scanFacts ? readDecisionColumns : readDecisionLog;
  return read(store, {
    ...range,
    join: deps.joinConfig,
    now: deps.clock.now(),
    onBatch: async (read) => {
      progress(Math.min(1, read / total));
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
  });
}

/**
 * Without an explicit end, a `loopwise:` range ends one reward window before now: later decisions still have
 * open windows, where only the slots rewarded early are resolved (their default reward comes at the close),
 * so counting them would evaluate every policy on its successes alone (every estimate near the max reward).
 */
export function closedWindowsEnd(deps: Pick<EvaluateDeps, "clock" | "joinConfig">): number {
  return deps.clock.now() - deps.joinConfig.windowMs;
}

/** `learn:<policy:id | JSON spec>`: the policy keeps learning along the log (ope/targets.ts learningTarget). */
const LEARN_PREFIX = "learn:";

/**
 * Target specs: `uniform`, `logging`, `file:<path.csv>` (per-round probabilities), `learn:<spec>`, anything
 * else (`policy:<id>` or a JSON spec) through `resolvePolicy`. The logging policy and uniform are always
 * included, first, so every report shows the on-policy value and a no-knowledge baseline.
 */
export async function resolveTargets(
  specs: readonly string[],
  resolvePolicy: (spec: string) => Policy,
  readText: (path: string) => Promise<string>,
): Promise<TargetPolicy[]> {
  const wanted = ["logging", "uniform", ...specs.filter((s) => s !== "logging" && s !== "uniform")];
  const unique = [...new Set(wanted)];
  return Promise.all(
    unique.map(async (spec): Promise<TargetPolicy> => {
      if (spec === "logging") return loggingTarget();
      if (spec === "uniform") return uniformTarget();
      if (spec.startsWith("file:")) {
        const path = spec.slice("file:".length);
        return matrixTarget(`file:${basename(path)}`, parseProbabilityCsv(await readText(path), path));
      }
      if (spec.startsWith(LEARN_PREFIX)) {
        const inner = spec.slice(LEARN_PREFIX.length);
        // A copy: the replay must not train a registered (serving) policy.
        const copy = restorePolicy(resolvePolicy(inner).snapshot());
        return learningTarget(`${LEARN_PREFIX}${targetName(inner)}`, copy);
      }
      return policyTarget(targetName(spec), resolvePolicy(spec));
    }),
  );
}

function targetName(spec: string): string {
  if (!spec.trim().startsWith("{")) return spec;
  try {
    const parsed = JSON.parse(spec) as { type?: unknown };
    return typeof parsed.type === "string" ? `spec:${parsed.type}` : "spec";
  } catch {
    return "spec";
  }
}

/**
 * The default resolver: `policy:<id>` from the registered policies (when given), a JSON spec or a bare
 * type name as a fresh policy of that spec (`createPolicy`), i.e. its behaviour before any learning.
 */
export function defaultPolicyResolver(registered?: PolicyProvider): (spec: string) => Policy {
  return (spec) => {
    if (spec.startsWith("policy:")) {
      const id = spec.slice("policy:".length);
      const found = registered?.get(id);
      if (!found) throw new LoopwiseError("POLICY_NOT_FOUND", `no registered policy "${id}"`);
      return found;
    }
    const parsed = parsePolicySpec(spec);
    return createPolicy(`offline-${parsed.type}`, parsed);
  };
}

export type { EvaluationResult } from "../ope/evaluate-log.js";
export { renderHtmlReport as renderEvaluationReport } from "../ope/report-html.js";

/**
 * Checks a target's JSON policy spec when the job is submitted, without building the policy (that allocates its
 * model): the type is registered and the features (hashed dims) are within the documented maxima. The
 * type's own params are checked when the job builds it; a bad one fails the job with the reason.
 */
export function targetSpecIssue(target: string): string | undefined {
  const spec = target.startsWith(LEARN_PREFIX) ? target.slice(LEARN_PREFIX.length) : target;
  // Names (`policy:<id>`, a bare type, whatever a caller's resolver knows) are resolved by the job.
  if (!spec.trim().startsWith("{")) return undefined;
  try {
    const parsed = parsePolicySpec(spec);
    if (!Object.hasOwn(policyTypes, parsed.type)) {
      return `unknown policy type "${parsed.type}"; expected one of ${Object.keys(policyTypes).join(", ")}`;
    }
    const features = featuresSchema.safeParse(parsed.features);
    if (!features.success) return `features: ${features.error.issues.map((i) => i.message).join("; ")}`;
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}
