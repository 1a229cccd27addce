import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const run = promisify(execFile);
const built = existsSync(join(root, "dist/cli/index.js"));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
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

describe.skipIf(!built)("the compiled package", () => {
  it("imports only its runtime dependencies (an install without dev dependencies must run)", () => {
    const files = readdirSync(join(root, "dist"), { recursive: true, encoding: "utf8" }).filter((f) =>
      f.endsWith(".js"),
    );
    const bare = new Set<string>();
    for (const file of files) {
      const text = readFileSync(join(root, "dist", file), "utf8");
      // Static imports and re-exports start a line (so a doc comment quoting `import … from "loopwise"` is not one);
      // dynamic imports may stand anywhere.
      for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s*"([^".][^"]*)"|import\("([^".][^"]*)"\)/gm)) {
        bare.add((m[1] ?? m[2]) as string);
      }
    }
    const packageOf = (spec: string) =>
      spec
        .split("/")
        .slice(0, spec.startsWith("@") ? 2 : 1)
        .join("/");
    // tsx is imported only when the sources run as .ts (recommend/train-in-worker.ts), never from dist/.
    const missing = [...bare]
      .filter((s) => !s.startsWith("node:") && packageOf(s) !== "tsx")
      .filter((s) => !(packageOf(s) in pkg.dependencies));
    expect(missing).toEqual([]);
    expect(bare.size).toBeGreaterThan(5);
  });

  it("has the dashboard's assets beside the compiled route that serves them", () => {
    for (const asset of ["index.html", "app.js", "panels.js"])
      expect(existsSync(join(root, "dist/dashboard", asset)), asset).toBe(true);
  });
});
