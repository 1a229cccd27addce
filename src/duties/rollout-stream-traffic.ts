import type { RolloutRouter } from "../app/ports.js";
import type { RolloutRoute } from "../app/rollout-controller.js";
import type { RolloutTrafficSink } from "../app/rollout-traffic.js";
import type { UserEvent } from "../core/types.js";
import type { RolloutDecisionEvent } from "../rollout/arm-tracker.js";
import type { DecisionStream } from "../stream/decision-stream.js";
import type { StreamEntry } from "../stream/stream-entry.js";

/**
 * Test traffic for the rollout duty: plays an API node's part for RolloutTraffic. It routes with `route`,
 * appends an exposure per routed decision and every event to the decision stream (as serving does after the
 * durable write), optionally feeds the same calls to an embedded controller to compare with, and appends every
 * `retryEvery`-th entry twice: a write committed but not acknowledged, retried by the client (at least once).
 */
export class StreamTrafficSink implements RolloutTrafficSink {
  private pending: StreamEntry[] = [];
  private appended = 0;
  exposures = 0;

  constructor(
    private readonly stream: DecisionStream,
    private readonly route: (policyId: string, userId: string) => RolloutRoute | undefined,
    private readonly options: {
      embedded?: Pick<RolloutRouter, "onDecision" | "onEvent">;
      retryEvery?: number;
      /** Prefixes decision, session and event ids: unique across nodes, as served ids are. */
      idPrefix?: string;
    } = {},
  ) {}

  routeFor(policyId: string, userId: string): RolloutRoute | undefined {
    return this.route(policyId, userId);
  }

  onDecision(played: RolloutDecisionEvent): void {
    const d = this.ids(played);
    this.options.embedded?.onDecision(d);
    this.exposures++;
    const { rolloutId, arm, userId, timestamp } = d;
    const exposure = { decisionId: d.decisionId as string, rolloutId, arm, userId, at: timestamp, stage: 0 };
    this.push({
      kind: "exposure",
      exposure: d.sessionId === undefined ? exposure : { ...exposure, sessionId: d.sessionId },
    });
  }

  onEvent(played: UserEvent): void {
    const e = this.ids(played);
    this.options.embedded?.onEvent(e);
    this.push({ kind: "event", event: e });
  }

  /** Appends what was played since the last flush. */
  async flush(): Promise<void> {
    const entries = this.pending;
    this.pending = [];
    if (entries.length > 0) await this.stream.append(entries);
  }

  private ids<T extends { decisionId?: string; sessionId?: string; eventId?: string }>(x: T): T {
    const prefix = this.options.idPrefix;
    if (!prefix) return x;
    const out = { ...x };
    if (x.decisionId !== undefined) out.decisionId = prefix + x.decisionId;
    if (x.sessionId !== undefined) out.sessionId = prefix + x.sessionId;
    if (x.eventId !== undefined) out.eventId = prefix + x.eventId;
    return out;
  }

  private push(entry: StreamEntry): void {
    this.pending.push(entry);
    const every = this.options.retryEvery;
    if (every && ++this.appended % every === 0) this.pending.push(entry);
  }
}
