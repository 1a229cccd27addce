import { murmur3 } from "../../core/hash.js";
import type { IngestResponse, RankResponse, RewardResponse, UpsertItemsResponse } from "../../server/api-types.js";
import { type RolloutStatusLike, type SimTarget, TargetError } from "../target.js";
import { createHttpCaller, type HttpCall, HttpTargetError, type HttpTargetOptions } from "./http-target.js";

export interface MultiNodeTargetOptions extends Omit<HttpTargetOptions, "url"> {
  /** Base URLs of the API nodes (loopback only), as a load balancer in front of them would see them. */
  urls: readonly string[];
  /**
   * `session`: every request of a session goes to one node (a sticky load balancer); `request`: each request
   * to the next node in turn (ranks and writes take turns of their own). Either way a reward (an event naming a decision, or POST .../reward) goes to a
   * node other than the one that served its decision: the cross-node join is what a cluster must get right.
   */
  routing?: "session" | "request";
  /** Retries of one call after a 503 (waiting its Retry-After) or a node that did not answer (default 5). */
  maxRetries?: number;
  /** Longest wait before a retry, ms (default 5 s): a long Retry-After is cut to this. */
  maxRetryWaitMs?: number;
  /** How long `registerPolicy` waits for every node to serve the new policy (default 30 s). */
  propagationTimeoutMs?: number;
}

/** What the target did, for a report or a test: requests per node, where rewards went, retries. */
export interface MultiNodeStats {
  requestsPerNode: number[];
  /** Rewards sent to a node other than the one that served their decision. */
  rewardsToOtherNode: number;
  /** Rewards whose decision's node was unknown (served before this target, or forgotten). */
  rewardsUnrouted: number;
  retries: number;
}

export type MultiNodeTarget = SimTarget & { stats(): MultiNodeStats };

/** Decisions remembered for routing their rewards; past this the oldest are forgotten (bounded memory). */
const REMEMBERED_DECISIONS = 200_000;
/** Wait before retrying a 503 that named no Retry-After, or another node after one did not answer. */
const DEFAULT_RETRY_WAIT_MS = 200;

/**
 * Drives several API nodes of one Loopwise cluster over HTTP, as clients behind a load balancer would:
 * requests spread over the nodes, rewards deliberately to a node that did not serve the decision, and a
 * write answered 503 retried after its `Retry-After` (safe: decisions, events and rewards carry ids the
 * server deduplicates, so a retry never counts twice). Catalog and admin calls go to the first node.
 */
export function createMultiNodeTarget(options: MultiNodeTargetOptions): MultiNodeTarget {
  if (options.urls.length === 0) throw new TargetError(0, "VALIDATION_FAILED", "multi-node target: no urls");
  const nodes = options.urls.map((url) => createHttpCaller({ ...options, url }));
  const stats: MultiNodeStats = {
    requestsPerNode: nodes.map(() => 0),
    rewardsToOtherNode: 0,
    rewardsUnrouted: 0,
    retries: 0,
  };
  const servedBy = new Map<string, number>();
  /**
   * Round-robin turns, one per kind of call: ranks and events alternate in a session, so one shared turn could send
   * every rank to one node and every event to the other (seen as a test where one node served no rank).
   */
  const turns = { rank: 0, write: 0 };
  const maxRetries = options.maxRetries ?? 5;
  const maxWait = options.maxRetryWaitMs ?? 5_000;

  /** Calls node `first`, retrying a 503 on it after Retry-After and a node that did not answer on the next. */
  async function callFrom<T>(first: number, method: "GET" | "POST", path: string, body?: unknown) {
    let node = first;
    for (let attempt = 0; ; attempt++) {
      try {
        stats.requestsPerNode[node] = (stats.requestsPerNode[node] ?? 0) + 1;
        const out = await (nodes[node] as { call: HttpCall }).call<T>(method, path, body);
        return { out, node };
      } catch (e) {
        const unavailable = e instanceof HttpTargetError && (e.status === 503 || e.status === 0);
        if (!unavailable || attempt >= maxRetries) throw e;
        stats.retries++;
        await sleep(Math.min(maxWait, e.retryAfterMs ?? DEFAULT_RETRY_WAIT_MS));
        if (e.status === 0) node = (node + 1) % nodes.length;
      }
    }
  }
  const call = async <T>(first: number, method: "GET" | "POST", path: string, body?: unknown) =>
    (await callFrom<T>(first, method, path, body)).out;

  const routeOf = (key: string | undefined, kind: keyof typeof turns = "write"): number => {
    if (options.routing === "request" || key === undefined) return turns[kind]++ % nodes.length;
    return murmur3(key) % nodes.length;
  };
  /** A node other than the one that served `decisionId` (when known), else the usual route. */
  const rewardRoute = (decisionId: string, key: string | undefined): number => {
    const served = servedBy.get(decisionId);
    if (served === undefined) {
      stats.rewardsUnrouted++;
      return routeOf(key);
    }
    stats.rewardsToOtherNode++;
    return (served + 1 + (murmur3(decisionId) % Math.max(1, nodes.length - 1))) % nodes.length;
  };
  const remember = (decisionId: string, node: number) => {
    servedBy.set(decisionId, node);
    if (servedBy.size > REMEMBERED_DECISIONS) servedBy.delete(servedBy.keys().next().value as string);
  };

  async function waitUntilEveryNodeServes(policyId: string): Promise<void> {
    const path = `/v1/policies/${encodeURIComponent(policyId)}`;
    const until = Date.now() + (options.propagationTimeoutMs ?? 30_000);
    for (let n = 0; n < nodes.length; n++) {
      for (;;) {
        const known = await call(n, "GET", path).then(
          () => true,
          (e) => (e instanceof TargetError && e.status === 404 ? false : Promise.reject(e)),
        );
        if (known) break;
        if (Date.now() > until) {
          throw new TargetError(504, "PROPAGATION_TIMEOUT", `policy ${policyId} not served by ${options.urls[n]}`);
        }
        await sleep(DEFAULT_RETRY_WAIT_MS);
      }
    }
  }

  return {
    kind: "http",
    stats: () => structuredClone(stats),
    upsertItems: (body) => call<UpsertItemsResponse>(0, "POST", "/v1/items", body),
    async ingestEvents(body) {
      const first = body.events[0];
      const key = first?.sessionId ?? first?.userId;
      const decisionId = body.events.find((e) => typeof e.decisionId === "string")?.decisionId;
      const node = decisionId === undefined ? routeOf(key) : rewardRoute(decisionId, key);
      return call<IngestResponse>(node, "POST", "/v1/events", body);
    },
    async rank(body) {
      const { out, node } = await callFrom<RankResponse>(
        routeOf(body.sessionId ?? body.userId, "rank"),
        "POST",
        "/v1/rank",
        body,
      );
      remember(out.decisionId, node);
      return out;
    },
    reward: (id, body) =>
      call<RewardResponse>(rewardRoute(id, undefined), "POST", `/v1/decisions/${encodeURIComponent(id)}/reward`, body),
    async registerPolicy(body) {
      const registered = await call<{ id: string; version?: number }>(0, "POST", "/v1/policies", body);
      await waitUntilEveryNodeServes(registered.id);
      return registered;
    },
    startRollout: (body) => call<RolloutStatusLike>(0, "POST", "/v1/rollouts", body),
    getRollout: (id) => call<RolloutStatusLike>(0, "GET", `/v1/rollouts/${encodeURIComponent(id)}`),
    async close() {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
