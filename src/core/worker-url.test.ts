import { describe, expect, it } from "vitest";
import { startWorker, workerUrl } from "./worker-url.js";

describe("workerUrl", () => {
  it("names the entry beside its caller, .ts from source and .js compiled", () => {
    expect(workerUrl("file:///app/src/storage/sqlite/log-writer.ts", "./log-writer-worker").href).toBe(
      "file:///app/src/storage/sqlite/log-writer-worker.ts",
    );
    expect(workerUrl("file:///app/dist/storage/sqlite/log-writer.js", "./log-writer-worker").href).toBe(
      "file:///app/dist/storage/sqlite/log-writer-worker.js",
    );
  });

  it("starts a TypeScript entry from source", async () => {
    // The log writer's entry exits at once when not given a database: its error proves it loaded as TS.
    const worker = startWorker(new URL("../storage/sqlite/log-writer.ts", import.meta.url).href, "./log-writer-worker");
    const error = await new Promise<Error>((resolve) => worker.once("error", resolve));
    expect(error.message).not.toMatch(/Unknown file extension/);
    expect(error.message).toMatch(/path|argument|undefined/i);
  });
});
