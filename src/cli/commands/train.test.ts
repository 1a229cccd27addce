import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { UserEvent } from "../../core/types.js";
import { loadModel } from "../../recommend/model-store.js";
import { openSqliteEventLog } from "../../storage/sqlite/event-log-sqlite.js";
import { register } from "./train.js";

const dir = mkdtempSync(join(tmpdir(), "loopwise-train-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loopwise train", () => {
  it("trains from the SQLite event log in the data dir and saves a loadable model", async () => {
    const { log, store } = openSqliteEventLog(join(dir, "loopwise.db"));
    const events: UserEvent[] = [];
    for (let u = 0; u < 30; u++) {
      const items = u % 3 === 0 ? ["a", "b", "c"] : ["a", "d"];
      for (const [k, itemId] of items.entries()) {
        events.push({
          eventId: `e${u}-${k}`,
          type: "view",
          userId: `u${u}`,
          sessionId: "s",
          itemId,
          timestamp: 1000 * u + k,
        });
      }
    }
    await log.append(events);
    await store.close();

    const program = new Command().exitOverride();
    register(program);
    const written: string[] = [];
    const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await program.parseAsync([
        "node",
        "loopwise",
        "train",
        "--data-dir",
        dir,
        "--model",
        "vsknn",
        "--format",
        "json",
      ]);
    } finally {
      out.mockRestore();
    }
    const printed = JSON.parse(written.join(""));
    expect(printed).toMatchObject({ model: "vsknn", items: 4, events: 70 });
    const model = await loadModel(dir);
    expect(model?.version).toBe(printed.version);
    expect(model!.recommend(["a"], 1, { exclude: new Set(["a"]) }).items[0]!.id).toBe("d");
  });

  it("refuses a data dir without an event log", async () => {
    const program = new Command().exitOverride();
    register(program);
    await expect(
      program.parseAsync(["node", "loopwise", "train", "--data-dir", join(dir, "nothing-here")]),
    ).rejects.toThrow(/no event log at/);
  });

  it("rejects an unknown model", async () => {
    const program = new Command().exitOverride();
    register(program);
    await expect(
      program.parseAsync(["node", "loopwise", "train", "--data-dir", dir, "--model", "nope"]),
    ).rejects.toThrow(/unknown model nope/);
  });

  it("without --data-dir trains in the config's data dir (env LOOPWISE_DATA_DIR here; ./data by default)", async () => {
    const program = new Command().exitOverride();
    register(program);
    const written: string[] = [];
    vi.stubEnv("LOOPWISE_DATA_DIR", dir);
    const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await program.parseAsync(["node", "loopwise", "train", "--model", "pop", "--format", "json"]);
    } finally {
      out.mockRestore();
      vi.unstubAllEnvs();
    }
    const printed = JSON.parse(written.join(""));
    expect(printed).toMatchObject({ model: "pop", events: 70 });
    expect((await loadModel(dir))?.version).toBe(printed.version);
  });
});
