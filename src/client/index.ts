import { type BatcherOptions, EventBatcher, type TrackResult } from "./event-batcher.js";
import { newClientId, newEventId } from "./ids.js";
import { createTransport, type Request, type TransportOptions } from "./transport.js";
import type * as T from "./types.js";

export { LoopwiseApiError, LoopwiseNetworkError } from "./errors.js";
export type { TrackResult } from "./event-batcher.js";
export type * from "./types.js";

export interface ClientOptions extends TransportOptions {
  /** Batching of `events.track()`. */
  events?: BatcherOptions;
}

const enc = encodeURIComponent;

/**
 * A typed client for the Loopwise v1 API: fetch-based ESM with no Node-only APIs (Node 20+ and browsers).
 * Sends the key as `authorization: Bearer`. Retries (exponential backoff with jitter; 429/503 honour
 * Retry-After) are safe because every write carries an idempotency key: a rank without `decisionId`, a
 * reward without `rewardId` and an event without `eventId` get one generated here, before the first attempt,
 * so a retry after a lost answer is the same request and the server counts it once. Writes without a key
 * (starting an evaluation or a rollout, advancing a stage) are retried only when the server refused them
 * (429/503), never after a network error. Errors are `LoopwiseApiError` carrying the problem document.
 */
export function createClient(options: ClientOptions) {
  const request = createTransport(options);
  const get = <R>(path: string, query?: Record<string, string | number | undefined>) =>
    request<R>({ method: "GET", path, idempotent: true, ...(query ? { query } : {}) });
  const post = <R>(path: string, body: unknown, idempotent: boolean) =>
    request<R>({ method: "POST", path, body, idempotent });
  const withEventId = (e: T.EventInput) => ({ ...e, eventId: e.eventId ?? newEventId() });
  const sendEvents = (events: T.EventInput[]) =>
    post<T.IngestResponse>("/v1/events", { events: events.map(withEventId) }, true);
  const batcher = new EventBatcher(sendEvents, options.events);

  return {
    rank: (req: T.RankRequest) =>
      post<T.RankResponse>("/v1/rank", { ...req, decisionId: req.decisionId ?? newClientId("dec") }, true),
    reward: (decisionId: string, req: T.RewardRequest) =>
      post<T.RewardResponse>(
        `/v1/decisions/${enc(decisionId)}/reward`,
        { ...req, rewardId: req.rewardId ?? newClientId("rw") },
        true,
      ),
    activate: (decisionId: string) =>
      post<T.ActivateResponse>(`/v1/decisions/${enc(decisionId)}/activate`, undefined, true),
    decisions: {
      get: (decisionId: string) => get<T.DecisionView>(`/v1/decisions/${enc(decisionId)}`),
    },
    events: {
      /** Sends one batch now (ids generated for events without one). */
      send: sendEvents,
      /** Buffers an event; resolves with its own result once its batch is answered (never rejects). */
      track: (event: T.EventInput): Promise<TrackResult> => batcher.track(withEventId(event)),
      flush: () => batcher.flush(),
      get buffered() {
        return batcher.buffered;
      },
    },
    items: {
      upsert: (items: T.ItemInput[]) => post<T.UpsertItemsResponse>("/v1/items", { items }, true),
    },
    features: {
      get: (userId: string) => get<T.UserFeatures>(`/v1/users/${enc(userId)}/features`),
    },
    recommendations: {
      get: (userId: string, query: { k?: number; exclude?: string[] } = {}) =>
        get<T.Recommendations>(`/v1/users/${enc(userId)}/recommendations`, {
          k: query.k,
          exclude: query.exclude?.join(","),
        }),
    },
    models: {
      train: () => post<{ version: string }>("/v1/models/train", undefined, false),
      current: () => get<T.ModelInfo>("/v1/models/current"),
    },
    policies: policyMethods(get, post, request),
    evaluations: evaluationMethods(get, post, request),
    rollouts: rolloutMethods(get, post),
  };
}

type Get = <R>(path: string) => Promise<R>;
type Post = <R>(path: string, body: unknown, idempotent: boolean) => Promise<R>;

function policyMethods(get: Get, post: Post, request: Request) {
  return {
    /** Re-registering the same spec changes nothing, so registration is retried safely. */
    register: (spec: T.RegisterPolicyRequest) => post<T.RegisterPolicyResponse>("/v1/policies", spec, true),
    list: () => get<T.PolicyList>("/v1/policies"),
    get: (id: string) => get<T.PolicyView>(`/v1/policies/${enc(id)}`),
    setDefault: (id: string) =>
      request<{ default: string }>({ method: "PUT", path: "/v1/policies/default", body: { id }, idempotent: true }),
    distribution: (id: string, req: T.DistributionRequest) =>
      post<T.DistributionResponse>(`/v1/policies/${enc(id)}/distribution`, req, true),
  };
}

function evaluationMethods(get: Get, post: Post, request: Request) {
  return {
    /** Not retried after a network error: a second start would run a second job. */
    start: (req: T.EvaluationRequest) => post<T.EvaluationJob>("/v1/evaluations", req, false),
    get: (id: string) => get<T.EvaluationJob>(`/v1/evaluations/${enc(id)}`),
    /** The self-contained HTML report. */
    report: (id: string) =>
      request<string>({ method: "GET", path: `/v1/evaluations/${enc(id)}/report`, idempotent: true, accept: "text" }),
  };
}

function rolloutMethods(get: Get, post: Post) {
  const control = (action: string, idempotent: boolean) => (id: string) =>
    post<T.RolloutView>(`/v1/rollouts/${enc(id)}/${action}`, undefined, idempotent);
  return {
    /** Not retried after a network error: it might have started. */
    start: (req: T.CreateRolloutRequest) => post<T.RolloutView>("/v1/rollouts", req, false),
    list: () => get<{ rollouts: T.RolloutSummary[] }>("/v1/rollouts"),
    get: (id: string) => get<T.RolloutView>(`/v1/rollouts/${enc(id)}`),
    pause: control("pause", true),
    resume: control("resume", true),
    /** Not retried after a network error: a second advance would skip a stage. */
    advance: control("advance", false),
    abort: control("abort", true),
  };
}

export type LoopwiseClient = ReturnType<typeof createClient>;
