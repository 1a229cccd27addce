import type { Logger } from "pino";
import { Counter, Histogram, type Registry } from "prom-client";
import type { UserEvent } from "../core/types.js";
import type { DecisionRecord, RewardOutcome, RewardRecord } from "../decisions/decision-record.js";
import type { AppendOptions, DecisionStore } from "../decisions/decision-store.js";
import type { EncodedDecision } from "../decisions/log-ops.js";
import type { EventLog } from "../events/event-log.js";
import { encodeDecision } from "../storage/sqlite/decision-store-sqlite.js";
import type { DecisionStream } from "../stream/decision-stream.js";
import type { StreamEntry } from "../stream/stream-entry.js";

/**
 * Serving's side of the decision stream (issue 13): after a write is durable in the log (PostgreSQL's group
 * commit resolved), the same op is appended to the stream for the worker duties. The append is awaited before
 * the request is answered, so an acknowledged write is in the stream unless the append failed (counted in
 * `loopwise_stream_append_failures_total` and logged; the request still succeeds, because the write is durable
 * and an answer of failure would make the client retry something already logged). A process killed between the
 * commit and the append loses only unacknowledged entries: the client's retry (same decision, reward or event id)
 * appends them again, so delivery is at least once and every consumer deduplicates by those ids.
 */
export interface StreamPublisher {
  /** A decision, and its exposure when a rollout routed it; `encoded`: the record's bytes when the log's are at hand. */
  decision(record: DecisionRecord, encoded?: EncodedDecision): Promise<void>;
  activate(decisionId: string, at: number): Promise<void>;
  reward(reward: RewardRecord, windowMs: number): Promise<void>;
  events(events: readonly UserEvent[]): Promise<void>;
}

/** Embedded mode: nothing consumes a stream, so nothing is appended (and nothing is encoded). */
export const noStreamPublisher: StreamPublisher = {
  decision: async () => {},
  activate: async () => {},
  reward: async () => {},
  events: async () => {},
};

export function createStreamPublisher(stream: DecisionStream, registry: Registry, logger: Logger): StreamPublisher {
  const failures = new Counter({
    name: "loopwise_stream_append_failures_total",
    help: "Appends to the decision stream that failed after the write was durable in the log, by entry kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "loopwise_stream_append_seconds",
    help: "Latency of one append to the decision stream (the entries of one event-loop turn, after the log's commit)",
    buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5],
    registers: [registry],
  });
  // Appends of one event-loop turn go to the stream together (one pipeline per partition, stream.append), like
  // the log's group commit: under concurrent requests a round trip and the pipeline's overhead are shared.
  let queued: { entries: StreamEntry[]; done: () => void }[] = [];
  const flush = async (): Promise<void> => {
    const batch = queued;
    queued = [];
    const entries = batch.flatMap((b) => b.entries);
    const started = performance.now();
    try {
      await stream.append(entries);
      latency.observe((performance.now() - started) / 1000);
    } catch (err) {
      for (const e of entries) failures.inc({ kind: e.kind });
      logger.error({ err, entries: entries.length }, "append to the decision stream failed (the log has them)");
    }
    for (const b of batch) b.done();
  };
  const append = (entries: StreamEntry[]): Promise<void> => {
    if (entries.length === 0) return Promise.resolve();
    return new Promise((done) => {
      if (queued.length === 0) setImmediate(() => void flush());
      queued.push({ entries, done });
    });
  };
  return {
    decision: (record, encoded) => append(decisionEntries(record, encoded ?? encodeDecision(record))),
    activate: (decisionId, at) => append([{ kind: "activate", decisionId, at }]),
    reward: (reward, windowMs) => append([{ kind: "reward", reward, windowMs }]),
    events: (events) => append(events.map((event) => ({ kind: "event", event }))),
  };
}

function decisionEntries(record: DecisionRecord, encoded: EncodedDecision): StreamEntry[] {
  const entries: StreamEntry[] = [{ kind: "decision", decision: encoded }];
  if (record.rollout) {
    const exposure = {
      decisionId: record.decisionId,
      rolloutId: record.rollout.id,
      stage: record.rollout.stage,
      arm: record.rollout.arm,
      userId: record.userId,
      at: record.timestamp,
    };
    entries.push({
      kind: "exposure",
      exposure: record.sessionId === undefined ? exposure : { ...exposure, sessionId: record.sessionId },
    });
  }
  return entries;
}

/**
 * The decision log with the stream hook: each write is published once it resolved, from this one place rather
 * than from every use-case. A duplicate reward (same reward id) is published again, so a consumer that missed the
 * first append gets it on the client's retry; an unknown decision's reward is not (nothing was written).
 * A decision that lost an insert race (`false`) is not: the winner publishes it. Retried ranks and activations
 * that write nothing call `republish` themselves (rank.ts, reward.ts).
 */
export class PublishingDecisionStore implements DecisionStore {
  readonly scanFacts: DecisionStore["scanFacts"];

  constructor(
    private readonly inner: DecisionStore,
    readonly publisher: StreamPublisher,
  ) {
    this.scanFacts = inner.scanFacts?.bind(inner);
  }

  /**
   * Issue 13: the record is encoded once for the log and the stream entry when the store can share the bytes
   * (`appendEncoded`: PostgreSQL, the store of every scale-out node); otherwise each encodes its own.
   */
  async append(record: DecisionRecord, options?: AppendOptions): Promise<boolean> {
    if (!this.inner.appendEncoded) {
      const inserted = await this.inner.append(record, options);
      if (inserted) await this.publisher.decision(record);
      return inserted;
    }
    const encoded = encodeDecision(record);
    const inserted = await this.inner.appendEncoded(encoded);
    if (inserted) await this.publisher.decision(record, encoded);
    return inserted;
  }
  get(decisionId: string) {
    return this.inner.get(decisionId);
  }
  async activate(decisionId: string, at: number): Promise<boolean> {
    const found = await this.inner.activate(decisionId, at);
    if (found) await this.publisher.activate(decisionId, at);
    return found;
  }
  async addReward(reward: RewardRecord, windowMs: number): Promise<RewardOutcome | undefined> {
    const outcome = await this.inner.addReward(reward, windowMs);
    if (outcome !== undefined) await this.publisher.reward(reward, windowMs);
    return outcome;
  }
  scan(options?: { from?: number; to?: number; batchSize?: number }) {
    return this.inner.scan(options);
  }
  count(options?: { from?: number; to?: number }) {
    return this.inner.count(options);
  }
  close() {
    return this.inner.close();
  }
}

/** The event log with the stream hook: every event of a durable append, duplicates too (a retry re-publishes). */
export class PublishingEventLog implements EventLog {
  constructor(
    private readonly inner: EventLog,
    private readonly publisher: StreamPublisher,
  ) {}

  async append(events: readonly UserEvent[]) {
    const result = await this.inner.append(events);
    await this.publisher.events(events);
    return result;
  }
  scan(options?: { from?: number; to?: number; userId?: string; batchSize?: number }) {
    return this.inner.scan(options);
  }
  count() {
    return this.inner.count();
  }
  close() {
    return this.inner.close();
  }
}
