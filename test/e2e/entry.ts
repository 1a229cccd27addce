import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The node arguments that run one of the project's entry points as a process (`main`: `loopwise serve`;
 * `cli/index`: the `loopwise` command): the compiled `dist/<name>.js` when dist/ is newer than every source
 * file (CI builds it: `npm ci` runs `prepare`), else `src/<name>.ts` through tsx, so a checkout with a stale or
 * missing dist/ still tests its sources. Compiled, a server is healthy in about half the time (1.4 s against
 * 2.6 s here, a third of the CPU), and several processes compiling the sources at once cost a 2-core machine
 * more than the tests do. test/e2e/bin.test.ts checks the compiled command itself.
 */
export function entryArgs(name: "main" | "cli/index"): string[] {
  const compiled = join(root, "dist", `${name}.js`);
  if (distIsFresh(compiled)) return [compiled];
  return ["--import", tsxUrl(), join(root, "src", `${name}.ts`)];
}

/** `entryArgs` as one shell command line (for tests that run documented commands through a shell). */
export function entryCommand(name: "main" | "cli/index"): string {
  return [process.execPath, ...entryArgs(name)].join(" ");
}

let fresh: boolean | undefined;
function distIsFresh(compiled: string): boolean {
  if (!existsSync(compiled)) return false;
  // The sources do not change while the suite runs: one walk per test process.
  fresh ??= newestMtime(join(root, "src")) <= statSync(join(root, "dist", "main.js")).mtimeMs;
  return fresh;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** tsx's loader by URL, so the command works from any working directory. */
function tsxUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
}
