import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { UserEvent } from "../core/types.js";
import { openSqliteEventLog } from "../storage/sqlite/event-log-sqlite.js";
import { ModelHolder } from "./model-holder.js";
import { loadModel } from "./model-store.js";
import type { SessionModel } from "./session-model.js";
import { trainInWorker } from "./train-in-worker.js";

const dir = mkdtempSync(join(tmpdir(), "loopwise-worker-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const loader = {
  module: new URL("../storage/sqlite/event-log-sqlite.ts", import.meta.url).href,
  exportName: "openSqliteEventLog",
  args: [join(dir, "loopwise.db")],
};

describe("trainInWorker", () => {
  it("trains from the event log in a worker thread and hands back the saved model, as a retrainer trainFn", async () => {
    const { log, store } = openSqliteEventLog(join(dir, "loopwise.db"));
    const events: UserEvent[] = [];
    for (let u = 0; u < 40; u++) {
      for (const [k, itemId] of (u % 2 ? ["a", "b"] : ["a", "c", "b"]).entries()) {
        events.push({
          eventId: `${u}-${k}`,
          type: "click",
          userId: `u${u}`,
          sessionId: "s",
          itemId,
          timestamp: u * 10 + k,
        });
      }
    }
    await log.append(events);
    await store.close();

    const holder = new ModelHolder<SessionModel>();
    const retrainer = holder.startRetraining({
      every: 3_600_000,
      trainFn: () => trainInWorker({ loader, dir, model: "vstan" }),
    });
    const model = await retrainer.trigger();
    await retrainer.stop();
    expect(holder.current()).toBe(model);
    expect(model.name).toBe("vstan");
    expect([...model.vocab.itemIds].sort()).toEqual(["a", "b", "c"]);
    expect(model.recommend(["a"], 1, { exclude: new Set(["a"]) }).items[0]!.id).toBe("b");
  });

  it("rejects with the worker's error and leaves no model behind", async () => {
    const bad = { ...loader, exportName: "noSuchExport" };
    await expect(trainInWorker({ loader: bad, dir: join(dir, "other") })).rejects.toThrow(
      /has no function noSuchExport/,
    );
    expect(await loadModel(join(dir, "other"))).toBeUndefined();
  });
});
