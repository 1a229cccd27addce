import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../core/clock.js";
import { ModelHolder } from "./model-holder.js";
import { trainRecommender } from "./recommenders.js";
import { buildDataset } from "./session-dataset.js";
import type { SessionModel } from "./session-model.js";
import { syntheticSessions } from "./synthetic-sessions.js";

const sessions = syntheticSessions({ events: 3000, items: 200, seed: 5, topicSize: 20 });
const clock = new ManualClock();

/** Trains on a growing slice of the log, so successive models really differ; yields like a real retrain. */
function trainer() {
  let round = 0;
  return async (): Promise<SessionModel> => {
    round++;
    await nextTurn();
    clock.advance(1000);
    const data = buildDataset(sessions.slice(0, 200 + round * 100));
    await nextTurn();
    return trainRecommender("vstan", data, { clock });
  };
}

describe("ModelHolder", () => {
  it("is empty until the first swap, then serves the swapped model", () => {
    const holder = new ModelHolder();
    expect(holder.current()).toBeUndefined();
    const m = trainRecommender("pop", sessions, { clock });
    expect(holder.swap(m)).toBeUndefined();
    expect(holder.current()).toBe(m);
  });

  it("retrains and swaps under concurrent scoring: each request uses one model from start to end", async () => {
    const train = trainer();
    const holder = new ModelHolder(await train());
    const retrainer = holder.startRetraining({ every: 60_000, trainFn: train });
    const versionsSeen = new Set<string>();
    let requests = 0;
    // A request: read the model once, score in several awaited steps (as rank does), check it never changed.
    const request = async (k: number) => {
      const model = holder.current()!;
      const session = sessions[k % 500]!.items.slice(0, 3) as string[];
      const first = model.recommend(session, 10);
      await nextTurn();
      const again = model.recommend(session, 10);
      const scores = model.score(
        session,
        first.items.map((r) => r.id),
      );
      expect(again).toEqual(first);
      expect(Array.from(scores)).toEqual(first.items.map((r) => r.score));
      versionsSeen.add(model.version);
      requests++;
    };
    const traffic = (async () => {
      for (let k = 0; k < 400; k++) await Promise.all([request(k), request(k + 1), request(k + 2)]);
    })();
    const swapped: string[] = [];
    for (let r = 0; r < 3; r++) swapped.push((await retrainer.trigger()).version);
    await traffic;
    await retrainer.stop();
    expect(requests).toBe(1200);
    expect(new Set(swapped).size).toBe(3);
    expect(holder.current()!.version).toBe(swapped[2]);
    // Requests were served by more than one model while retraining ran alongside them.
    expect(versionsSeen.size).toBeGreaterThan(1);
  });

  it("joins a running training instead of starting a second one", async () => {
    const holder = new ModelHolder();
    const trainFn = vi.fn(trainer());
    const retrainer = holder.startRetraining({ every: 60_000, trainFn });
    const [a, b] = await Promise.all([retrainer.trigger(), retrainer.trigger()]);
    expect(a).toBe(b);
    expect(trainFn).toHaveBeenCalledTimes(1);
    await retrainer.stop();
  });

  it("keeps the serving model when a training fails, and reports the error", async () => {
    const first = trainRecommender("pop", sessions, { clock });
    const holder = new ModelHolder(first);
    const errors: unknown[] = [];
    const retrainer = holder.startRetraining({
      every: 60_000,
      trainFn: async () => {
        throw new Error("event log unavailable");
      },
      onError: (e) => errors.push(e),
    });
    await expect(retrainer.trigger()).rejects.toThrow("event log unavailable");
    expect(holder.current()).toBe(first);
    expect(errors).toHaveLength(1);
    await retrainer.stop();
  });

  it("retrains on its schedule, one run after another", async () => {
    vi.useFakeTimers();
    try {
      const holder = new ModelHolder();
      const trainFn = vi.fn(async () => trainRecommender("pop", sessions, { clock }));
      const retrainer = holder.startRetraining({ every: 1000, trainFn });
      await vi.advanceTimersByTimeAsync(999);
      expect(trainFn).toHaveBeenCalledTimes(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(trainFn).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(2000);
      expect(trainFn).toHaveBeenCalledTimes(3);
      expect(holder.current()).toBeDefined();
      await retrainer.stop();
      await vi.advanceTimersByTimeAsync(5000);
      expect(trainFn).toHaveBeenCalledTimes(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
