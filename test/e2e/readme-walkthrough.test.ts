import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { entryCommand } from "./entry.js";
import { killHard, randomPort, startServerProcess } from "./server-process.js";

const root = join(import.meta.dirname, "../..");
const run = promisify(execFile);
/**
 * `npx loopwise` runs the compiled dist/: here the same (or the sources, when dist/ is stale: entry.ts), by
 * absolute paths, as the walk-through runs in a scratch directory with no node_modules of its own.
 */
const loopwise = entryCommand("cli/index");
const dataDir = mkdtempSync(join(tmpdir(), "loopwise-readme-"));
const work = mkdtempSync(join(tmpdir(), "loopwise-readme-cwd-"));
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** The README's walk-through, run as written (only the port and data dir are changed) against a real server. */
describe("README walk-through", () => {
  it("works as written", async () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const block = /```sh\n(# 1\.[\s\S]*?)```/.exec(readme)?.[1];
    expect(block, "walk-through block in README").toBeDefined();
    const port = randomPort();
    const server = await startServerProcess(dataDir, port);
    try {
      const script = (block as string)
        .replaceAll("localhost:8080", `localhost:${port}`)
        .replaceAll("data/admin-key", join(dataDir, "admin-key"))
        .replace(/npx loopwise ((?:log|keys) [^)\n]*)/g, `${loopwise} $1 --data-dir ${dataDir}`);
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], { cwd: work });
      expect(stdout).toContain('"decisionId":"dec-demo-1"');
      expect(stdout).toContain('"rewardsJoined":1');
      expect(stdout).toContain('"status":"accepted"');
      expect(stdout).toMatch(/decisions\s+1/);
      expect(readFileSync(join(work, "decisions.jsonl"), "utf8")).toContain("dec-demo-1");
      expect(readFileSync(join(work, "decisions.parquet")).subarray(0, 4).toString()).toBe("PAR1");
      expect(JSON.parse(readFileSync(join(work, "decisions.dsjson"), "utf8").split("\n")[0] as string)).toMatchObject({
        EventId: "dec-demo-1:0",
      });
    } finally {
      await killHard(server.child);
    }
  }, 60_000);
});
