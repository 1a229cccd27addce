import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const run = promisify(execFile);
const built = existsSync(join(root, "dist/cli/index.js"));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  bin: Record<string, string>;
};
const bin = join(root, pkg.bin.loopwise as string);

if (!built) console.warn("bin.test: skipped, no dist/ (run `npm run build`; `npm install` runs it)");

/** The published command: bin/loopwise.js on the compiled dist/ (what `npx loopwise` runs after `npm install`). */
describe.skipIf(!built)("the loopwise bin on dist/", () => {
  it("prints the package version", async () => {
    const { stdout } = await run(process.execPath, [bin, "--version"], { cwd: root });
    expect(stdout.trim()).toBe(pkg.version);
  });

  it("lists every command in its help", async () => {
    const { stdout } = await run(process.execPath, [bin, "--help"], { cwd: root });
    for (const command of ["serve", "log", "train", "evaluate", "rollout", "simulate", "eval"]) {
      expect(stdout).toMatch(new RegExp(`^\\s+${command}\\b`, "m"));
    }
  });
});
