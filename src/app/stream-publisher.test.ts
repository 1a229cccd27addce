import { pino } from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { EncodedDecision } from "../decisions/log-ops.js";
import { realisticDecision } from "../decisions/test-fixtures.js";
import { MemoryDecisionStore } from "../storage/memory/decision-store-memory.js";
import { createMemoryDecisionStream } from "../storage/memory/decision-stream-memory.js";
import { decodeRecord } from "../storage/sqlite/record-codec.js";
import type { DecisionStream } from "../stream/decision-stream.js";
import type { StreamEntry } from "../stream/stream-entry.js";
import type { Engine } from "./engine.js";
import { createStreamPublisher, PublishingDecisionStore } from "./stream-publisher.js";
import { createTestEngine } from "./test-engine.js";

/** Serving appends every durable write to the decision stream (api role), again on a client's retry. */
let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const candidates = [{ id: "a" }, { id: "b" }, { id: "c" }];

async function everything(stream: DecisionStream): Promise<StreamEntry[]> {
  const out: { id: string; entry: StreamEntry }[] = [];
  for (let p = 0; p < stream.partitions; p++) out.push(...(await stream.range(p, undefined, 10_000)));
  return out.map((d) => d.entry);
}

const kinds = (entries: StreamEntry[]) => entries.map((e) => e.kind).sort();

async function apiEngine(stream: DecisionStream): Promise<Engine> {
  return createTestEngine({
    clock: new ManualClock(Date.UTC(2026, 11, 6)),
    config: { role: "api" },
    adapters: { stream },
  });
}

describe("the stream publisher", () => {
  it("appends decisions, activations, rewards and events after they are logged, and again on a retry", async () => {
    const stream = createMemoryDecisionStream({ partitions: 4 });
    engine = await apiEngine(stream);
    const served = await engine.rank({ userId: "u1", candidates, slots: 2, decisionId: "d1", deferActivation: true });
    await engine.activate(served.decisionId);
    const reward = { rewardId: "r1", value: 1, itemId: served.ranking[0]?.id };
    await engine.reward(served.decisionId, reward);
    const event = { eventId: "e1", type: "view", userId: "u1", itemId: "a", timestamp: engine.clock.now() };
    await engine.ingestEvents({ events: [event] });
    const first = await everything(stream);
    expect(kinds(first)).toEqual(["activate", "decision", "event", "reward"]);
    const decision = first.find((e) => e.kind === "decision");
    expect(decision?.kind === "decision" && decision.decision).toMatchObject({ decisionId: "d1", userId: "u1" });

    // The client retries everything (it never saw the answers): each is appended again, nothing logged twice.
    await engine.rank({ userId: "u1", candidates, slots: 2, decisionId: "d1", deferActivation: true });
    await engine.activate(served.decisionId);
    expect((await engine.reward(served.decisionId, reward)).status).toBe("duplicate");
    expect((await engine.ingestEvents({ events: [event] })).duplicates).toBe(1);
    const again = await everything(stream);
    expect(kinds(again)).toEqual([
      "activate",
      "activate",
      "decision",
      "decision",
      "event",
      "event",
      "reward",
      "reward",
    ]);
    expect(await engine.decisions.count()).toBe(1);
  });

  it("appends nothing for a write that did not happen (an unknown decision's reward, a rejected event)", async () => {
    const stream = createMemoryDecisionStream({ partitions: 2 });
    engine = await apiEngine(stream);
    await expect(engine.reward("nope", { value: 1 })).rejects.toMatchObject({ code: "DECISION_NOT_FOUND" });
    await expect(engine.ingestEvents({ events: [{ type: "view" }] })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    expect(await everything(stream)).toEqual([]);
  });

  it("adds an exposure when a rollout routed the decision", async () => {
    const stream = createMemoryDecisionStream({ partitions: 2 });
    engine = await apiEngine(stream);
    const rollout = await engine.parts.rollouts?.start({
      candidate: "uniform",
      incumbent: "default",
      stages: [50, 100],
      minHold: "1h",
    });
    // Starts the first stage: an admin's advance on this node (the rollout-controller duty would, on its tick).
    await engine.parts.rollouts?.advance(rollout?.id as string);
    const served = await engine.rank({ userId: "u7", sessionId: "s7", candidates });
    const exposure = (await everything(stream)).find((e) => e.kind === "exposure");
    expect(exposure?.kind === "exposure" && exposure.exposure).toEqual({
      decisionId: served.decisionId,
      rolloutId: served.rollout?.id,
      stage: served.rollout?.stage,
      arm: served.rollout?.arm,
      userId: "u7",
      sessionId: "s7",
      at: engine.clock.now(),
    });
  });

  it("appends nothing in the embedded mode, and counts a failed append without failing the request", async () => {
    const stream = createMemoryDecisionStream({ partitions: 2 });
    engine = await createTestEngine({ adapters: { stream } });
    await engine.rank({ userId: "u", candidates });
    expect(await everything(stream)).toEqual([]);
    await engine.close();

    const broken = createMemoryDecisionStream({ partitions: 2 });
    broken.append = async () => {
      throw new Error("redis is down");
    };
    engine = await apiEngine(broken);
    const served = await engine.rank({ userId: "u", candidates });
    expect(await engine.decisions.get(served.decisionId)).toBeDefined();
    const metrics = await engine.metrics.registry.metrics();
    expect(metrics).toMatch(/loopwise_stream_append_failures_total\{kind="decision"\} 1/);
  });

  it("sends the appends of one event-loop turn in one call, and answers each once it is in", async () => {
    const stream = createMemoryDecisionStream({ partitions: 4 });
    const calls: number[] = [];
    const append = stream.append.bind(stream);
    stream.append = (entries) => {
      calls.push(entries.length);
      return append(entries);
    };
    const publisher = createStreamPublisher(stream, new Registry(), pino({ level: "silent" }));
    await Promise.all(Array.from({ length: 10 }, (_, i) => publisher.activate(`d${i}`, i)));
    expect(calls).toEqual([10]);
    expect(await everything(stream)).toHaveLength(10);
    await publisher.activate("d10", 10); // a later turn: a call of its own
    expect(calls).toEqual([10, 1]);
  });

  it("encodes a decision once for the log and the stream when the store shares the bytes (issue 13)", async () => {
    const stream = createMemoryDecisionStream({ partitions: 2 });
    const publisher = createStreamPublisher(stream, new Registry(), pino({ level: "silent" }));
    const logged: EncodedDecision[] = [];
    const inner = new MemoryDecisionStore();
    const sharing: DecisionStore = Object.assign(Object.create(inner) as DecisionStore, {
      appendEncoded: async (decision: EncodedDecision) => {
        logged.push(decision);
        return inner.append(decodeRecord(decision.bytes));
      },
    });
    const record = realisticDecision(1);
    expect(await new PublishingDecisionStore(sharing, publisher).append(record)).toBe(true);
    const entry = (await everything(stream)).find((e) => e.kind === "decision");
    // The very bytes the log wrote: one encoding, not two equal ones.
    expect(entry?.kind === "decision" && entry.decision.bytes).toBe(logged[0]?.bytes);
    expect(decodeRecord(logged[0]?.bytes as Uint8Array)).toEqual(record);
    expect(await inner.get(record.decisionId)).toBeDefined();
    // A store without it gets the record, and the stream its own encoding of it.
    const plain = new MemoryDecisionStore();
    const other = { ...realisticDecision(2) };
    expect(await new PublishingDecisionStore(plain, publisher).append(other)).toBe(true);
    const entries = (await everything(stream)).filter((e) => e.kind === "decision");
    expect(entries).toHaveLength(2);
    expect(await plain.get(other.decisionId)).toBeDefined();
  });
});
