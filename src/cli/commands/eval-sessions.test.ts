import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, describe, expect, it, vi } from "vitest";
import { register } from "./eval-sessions.js";

// A small raw yoochoose-format log: 3 days of train sessions p→q→r and one test day.
const dir = mkdtempSync(join(tmpdir(), "loopwise-eval-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DAY = 86400;
const lines = ["SessionId\tItemId\tTime"];
for (let s = 1; s <= 12; s++) {
  const t0 = s <= 9 ? s * 3600 : 3 * DAY + s * 60;
  ["1", "2", "3"].forEach((item, k) => {
    lines.push(`${s}\t${item}\t${t0 + k}`);
  });
}
writeFileSync(join(dir, "clicks.txt"), `${lines.join("\n")}\n`);

async function run(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  register(program);
  const written: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(["node", "loopwise", "eval", "sessions", ...args]);
  } finally {
    spy.mockRestore();
  }
  return written.join("");
}

describe("loopwise eval sessions", () => {
  it("applies P1–P6 to raw files and prints the metrics as JSON", async () => {
    const out = JSON.parse(await run(["--train", join(dir, "clicks.txt"), "--model", "vsknn,pop", "--format", "json"]));
    expect(out).toMatchObject({
      source: "raw",
      protocolCheck: "not checked",
      trainSessions: 9,
      testSessions: 3,
      events: 6,
    });
    const vsknn = out.results.find((r: { model: string }) => r.model === "vsknn");
    // Every neighbour holds 1, 2 and 3, so all three tie and the tie goes to id order (equal clicks): after [1]
    // the target 2 ranks 2nd, after [1, 2] the target 3 ranks 3rd. MRR = (1/2 + 1/3) / 2.
    expect(vsknn["HR@10"]).toBe(1);
    expect(vsknn["MRR@20"]).toBeCloseTo((1 / 2 + 1 / 3) / 2, 12);
    expect(vsknn.fitSeconds).toBeGreaterThanOrEqual(0);
    expect(vsknn.peakRssMb).toBeGreaterThan(0);
  });

  it("prints a table by default and rejects unknown models", async () => {
    expect(await run(["--train", join(dir, "clicks.txt"), "--model", "spop"])).toMatch(
      /model\s+HR@10\s+MRR@10\s+HR@20/,
    );
    await expect(run(["--train", join(dir, "clicks.txt"), "--model", "nope"])).rejects.toThrow(/unknown model/);
  });
});
