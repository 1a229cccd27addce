import type { ConfigInput } from "../../app/config.js";
import { createEngine } from "../../app/engine.js";
import type { Clock } from "../../core/clock.js";
import { isLoopwiseError } from "../../core/errors.js";
import type { IngestResponse, RankResponse, RewardResponse, UpsertItemsResponse } from "../../server/api-types.js";
import { describeRollout } from "../../server/rollout-view.js";
import { type RolloutStatusLike, type SimTarget, TargetError } from "../target.js";

/**
 * The engine members the simulator uses (same bodies and responses as HTTP). Stated narrowly so the target
 * works with whatever part of the engine exists: policy registration and rollouts are optional.
 */
export interface EngineLike {
  ingestEvents(body: unknown): Promise<IngestResponse>;
  upsertItems(body: unknown): Promise<UpsertItemsResponse>;
  rank(body: unknown): Promise<RankResponse>;
  reward(decisionId: string, body: unknown): Promise<RewardResponse>;
  tick(): Promise<void>;
  close(): Promise<void>;
  registerPolicy?(body: unknown): Promise<{ id: string; version?: number }>;
  rollouts?: unknown;
  /** The engine's parts: the rollout controller and the policy registry may live there. */
  parts?: { rollouts?: unknown; policies?: unknown };
}

/** Rollout operations found on the engine, whatever their exact names (the rollout part is optional). */
interface RolloutOps {
  start(body: Record<string, unknown>): Promise<RolloutStatusLike>;
  get(id: string): Promise<RolloutStatusLike>;
}

/** Wraps an engine; engine errors become TargetErrors with the same codes HTTP would return. */
export function createInProcessTarget(engine: EngineLike): SimTarget {
  const wrap = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (e) {
      if (e instanceof TargetError) throw e;
      if (isLoopwiseError(e)) throw new TargetError(e.status, e.code, e.message);
      throw new TargetError(500, "INTERNAL", (e as Error).message);
    }
  };
  const rollouts = rolloutOps(engine.rollouts ?? engine.parts?.rollouts);
  const register = registryRegister(engine.parts?.policies);
  const target: SimTarget = {
    kind: "in-process",
    upsertItems: (body) => wrap(() => engine.upsertItems(body)),
    ingestEvents: (body) => wrap(() => engine.ingestEvents(body)),
    rank: (body) => wrap(() => engine.rank(body)),
    reward: (id, body) => wrap(() => engine.reward(id, body)),
    registerPolicy: (body) =>
      wrap(async () => {
        if (engine.registerPolicy) return engine.registerPolicy(body);
        if (register) return register(body);
        throw new TargetError(501, "NOT_IMPLEMENTED", "this engine cannot register policies");
      }),
    tick: () => engine.tick(),
    close: () => engine.close(),
  };
  if (rollouts) {
    target.startRollout = (body) => wrap(() => rollouts.start(body));
    target.getRollout = (id) => wrap(() => rollouts.get(id));
  }
  return target;
}

/** Finds start/get methods on `engine.rollouts` (controller or use-case object), if present. */
function rolloutOps(candidate: unknown): RolloutOps | undefined {
  if (typeof candidate !== "object" || candidate === null) return undefined;
  const o = candidate as Record<string, unknown>;
  const start = ["start", "create", "startRollout"].map((k) => o[k]).find((f) => typeof f === "function");
  // The controller's `status` shaped by the route's own view (server/rollout-view.ts): GET /v1/rollouts/:id's
  // answer, so both targets give the same timeline fields (stage in percent, share, transitions).
  const status = o.status;
  const get =
    typeof status === "function"
      ? undefined
      : ["get", "getRollout"].map((k) => o[k]).find((f) => typeof f === "function");
  if (typeof start !== "function" || (typeof status !== "function" && typeof get !== "function")) return undefined;
  return {
    start: async (body) => (await start.call(candidate, body)) as RolloutStatusLike,
    get: async (id) =>
      typeof status === "function"
        ? (describeRollout(await status.call(candidate, id)) as RolloutStatusLike)
        : ((await (get as (id: string) => Promise<unknown>).call(candidate, id)) as RolloutStatusLike),
  };
}

/**
 * `parts.policies.register(body)` (the policy registry behind POST /v1/policies), for engines without a
 * `registerPolicy` method; answers like the route: the id and version.
 */
function registryRegister(
  candidate: unknown,
): ((body: unknown) => Promise<{ id: string; version?: number }>) | undefined {
  if (typeof candidate !== "object" || candidate === null) return undefined;
  const register = (candidate as Record<string, unknown>).register;
  if (typeof register !== "function") return undefined;
  return async (body) => {
    const out = (await register.call(candidate, body)) as { policy?: { id: string; version: number }; id?: string };
    if (out.policy) return { id: out.policy.id, version: out.policy.version };
    return { id: String(out.id ?? "") };
  };
}

/**
 * A fresh engine in memory on the given clock (fast simulations), wrapped as a target. `config` is a
 * scenario's `engine` section (or any config input); the engine's config schema checks it.
 */
export async function openInProcessTarget(
  clock: Clock,
  config: ConfigInput | Record<string, unknown> = {},
): Promise<SimTarget> {
  const engine = await createEngine({
    dataDir: ":memory:",
    clock,
    config: { logLevel: "silent", ...config } as ConfigInput,
  });
  return createInProcessTarget(engine);
}
