import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import type { WireResult } from "./log-ops.js";
import { ChannelMainEnd, ChannelWriterEnd, createChannelBuffers, resultCode } from "./log-writer-channel.js";

describe("the log writer's shared channel", () => {
  it("codes the common results and leaves the rest to messages", () => {
    for (const value of [undefined, true, false, "accepted", "late", "duplicate", "not_activated"]) {
      expect(resultCode({ ok: true, value })).toBeGreaterThanOrEqual(0);
    }
    expect(resultCode({ ok: true, value: [0, 2] })).toBe(-1); // events' indices
    // An events op's indices are coded when they are all of its events (the main end knows how many).
    expect(resultCode({ ok: true, value: [0, 1, 2] }, 3)).toBeGreaterThanOrEqual(0);
    expect(resultCode({ ok: true, value: [] }, 0)).toBe(resultCode({ ok: true, value: [0] }, 1));
    expect(resultCode({ ok: true, value: [0, 1] }, 3)).toBe(-1); // the third a duplicate
    expect(resultCode({ ok: true, value: [0, 2] }, 3)).toBe(-1);
    expect(resultCode({ ok: true, value: [1, 2] }, 3)).toBe(-1);
    expect(resultCode({ ok: true, value: [0, 1, 2] })).toBe(-1); // not said to be an events op
    expect(resultCode({ ok: true, value: { deleted: 3 } })).toBe(-1); // a retention step
    expect(resultCode({ ok: false, error: { name: "Error", message: "UNIQUE" } })).toBe(-1);
  });

  it("hands every published result to the main end once, in order, across many turns of a small ring", () => {
    const buffers = createChannelBuffers(5); // a ring of 8
    const writer = new ChannelWriterEnd(buffers);
    const main = new ChannelMainEnd(buffers);
    const values: unknown[] = [true, false, "late", undefined, "duplicate"];
    const seen: [number, WireResult][] = [];
    let id = 1;
    for (let turn = 0; turn < 40; turn++) {
      const batch = 1 + (turn % 5); // at most the queue bound unread
      for (let k = 0; k < batch; k++, id++) {
        writer.put(id, resultCode({ ok: true, value: values[id % values.length] }));
      }
      main.drain((i, r) => seen.push([i, r])); // nothing is visible before publish
      expect(seen.length).toBe(id - 1 - batch);
      writer.publish();
      main.drain((i, r) => seen.push([i, r]));
      expect(seen.length).toBe(id - 1);
    }
    expect(seen.map(([i]) => i)).toEqual(Array.from({ length: id - 1 }, (_, i) => i + 1));
    for (const [i, r] of seen) expect(r).toEqual({ ok: true, value: values[i % values.length] });
    expect(main.commits()).toBe(40);
  });

  it("wakes a main end waiting for results when they are published", async () => {
    const buffers = createChannelBuffers(4);
    const writer = new ChannelWriterEnd(buffers);
    const main = new ChannelMainEnd(buffers);
    const woken = main.whenWritten();
    writer.put(7, resultCode({ ok: true, value: true }));
    writer.publish();
    await woken;
    const got: number[] = [];
    main.drain((i) => got.push(i));
    expect(got).toEqual([7]);
  });

  it("lets the writer end sleep only while the doorbell has not rung since it looked", () => {
    const buffers = createChannelBuffers(4);
    const writer = new ChannelWriterEnd(buffers);
    const seen = writer.doorbell();
    new ChannelMainEnd(buffers).ring();
    expect(writer.doorbell()).toBe(seen + 1);
    writer.waitUnless(seen); // returns at once: it rang after `seen` was read (would block forever otherwise)
  });

  it("rings the writer awake only while it sleeps, and never loses a ring across threads", async () => {
    const buffers = createChannelBuffers(4);
    const main = new ChannelMainEnd(buffers);
    expect(main.ring()).toBe(false); // nobody sleeps: no notify
    // A writer end in another thread sleeping and waking 200 times; each sleep ends only by a ring.
    const url = new URL("./log-writer-channel.ts", import.meta.url).href;
    const code = `
      const { workerData, parentPort } = require("node:worker_threads");
      import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(url)}); }).then(({ ChannelWriterEnd }) => {
        const writer = new ChannelWriterEnd(workerData);
        for (let i = 0; i < 200; i++) {
          const seen = writer.doorbell();
          parentPort.postMessage(i);
          writer.waitUnless(seen);
        }
        parentPort.postMessage("done");
      });`;
    // From source: tsx registered in the worker first (as core/worker-url.ts `startWorker` does).
    const worker = new Worker(code, { eval: true, workerData: buffers });
    const rang: boolean[] = [];
    const done = new Promise<void>((resolve, reject) => {
      worker.on("error", reject);
      worker.on("message", async (m) => {
        if (m === "done") return resolve();
        // Odd turns ring at once (the writer may not have marked itself yet: its wait then sees the count),
        // even turns once it marked itself sleeping: that ring must notify.
        if (m % 2 === 0) while (!main.writerSleeping()) await new Promise((r) => setImmediate(r));
        rang[m] = main.ring();
      });
    });
    await done;
    await worker.terminate();
    expect(rang.filter((notified, i) => i % 2 === 0 && notified).length).toBe(100);
    expect(main.ring()).toBe(false); // awake again (the worker is gone, its mark cleared on each wake)
  });
});
