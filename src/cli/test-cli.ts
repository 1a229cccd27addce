import { vi } from "vitest";
import { buildProgram } from "./index.js";

/**
 * For tests: runs `loopwise ARGS...` in this process and resolves on what it printed on stdout (stderr, its
 * progress and notes, is swallowed). An error the command throws rejects, as the CLI's exit 1 would report it.
 * A `test-` file, so the build leaves it out (tsconfig.build.json): the package never imports vitest.
 */
export async function runCliInProcess(args: readonly string[]): Promise<string> {
  let out = "";
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await (await buildProgram()).parseAsync(["node", "loopwise", ...args]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return out;
}
