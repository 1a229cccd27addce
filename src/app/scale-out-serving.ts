import type { PolicyStore } from "../bandit/policy-store.js";
import type { SnapshotStore } from "../stream/snapshot-store.js";
import type { EngineParts } from "./engine-parts.js";
import { ModelFollower } from "./model-follower.js";
import { PolicyFollowers } from "./policy-follower.js";
import type { EngineRecommender } from "./recommender.js";

/**
 * What an API node follows in scale-out (issue 13), started by the composition root: every policy's snapshots
 * from its learner duty (app/policy-follower.ts), the recommender's models from the trainer duty
 * (app/model-follower.ts), and, every `workers.policyRefresh`, policies registered and a default changed on
 * other nodes or by a rollout's promotion (the registry otherwise only learns of them at start). Rollouts are
 * followed by the controller's router (app/rollout-follower.ts). Resolves the function that stops it all.
 */
export async function followPublishedState(
  parts: EngineParts,
  snapshots: SnapshotStore,
  policyStore: PolicyStore,
  recommender: EngineRecommender | undefined,
): Promise<() => Promise<void>> {
  const { config, clock, logger, metrics, policies } = parts;
  const followers = new PolicyFollowers({
    snapshots,
    registry: policies,
    clock,
    metrics,
    logger,
    maxStalenessMs: config.workers.maxStaleness,
  });
  await Promise.all(policies.list().map((p) => followers.follow(p.id)));
  const refresh = async (): Promise<void> => {
    for (const id of await policyStore.ids()) await followers.follow(id);
    const stored = await policyStore.getDefault();
    if (stored && stored !== policies.defaultPolicyId && policies.find(stored)) await policies.setDefault(stored);
  };
  let refreshing: Promise<void> | undefined;
  const timer = setInterval(() => {
    refreshing ??= refresh()
      .catch((err: unknown) => logger.warn({ err }, "policy refresh failed; retrying on the next interval"))
      .finally(() => {
        refreshing = undefined;
      });
  }, config.workers.policyRefresh);
  timer.unref();
  const models = recommender ? new ModelFollower(snapshots, recommender.holder, metrics, logger) : undefined;
  await models?.start().catch((err: unknown) => logger.warn({ err }, "model snapshots: first catch-up failed"));
  return async () => {
    clearInterval(timer);
    await refreshing;
    followers.close();
    models?.stop();
  };
}
