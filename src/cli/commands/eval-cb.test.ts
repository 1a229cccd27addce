import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { describe, expect, it, vi } from "vitest";
import { DEFAULT_POLICY_SPEC } from "../../bandit/policy-types.js";
import { sharedDataDir } from "../../core/data-dir.js";
import { register } from "./eval-cb.js";

const dir = sharedDataDir();
const digits = dir && join(dir, "cb", "digits", "shuffled.csv");
const hasData = Boolean(digits && existsSync(digits));
if (!hasData) console.log("skipping `loopwise eval cb` test: ../shared/data/cb/digits is absent");

async function runCli(args: string[]): Promise<string> {
  const program = new Command("loopwise").exitOverride();
  register(program);
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(["node", "loopwise", ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe.runIf(hasData)("loopwise eval cb", () => {
  it("prints the protocol's metrics as JSON only", async () => {
    const out = await runCli([
      "eval",
      "cb",
      "--data",
      digits!,
      "--policy",
      "uniform",
      "--limit",
      "300",
      "--format",
      "json",
    ]);
    const row = JSON.parse(out);
    expect(row).toMatchObject({ dataset: "digits", n: 300, k: 10, spec: { type: "uniform" } });
    expect(row.expectedPvLoss).toBeCloseTo(0.9, 12);
    for (const key of ["pvLoss", "greedyAccuracy", "examplesPerSecond", "peakRssMb"])
      expect(typeof row[key]).toBe("number");
  });

  it("accepts a JSON spec and prints a table", async () => {
    const spec = JSON.stringify({ type: "epsilon-greedy", params: { epsilon: 0.1 } });
    const out = await runCli(["eval", "cb", "--data", digits!, "--policy", spec, "--limit", "200"]);
    expect(out).toMatch(/expected PV loss\s+0\.\d{4}/);
    expect(out).toMatch(/examples\/s\s+\d+/);
  });

  it("takes --policy default (and no --policy) as the product default spec", async () => {
    const args = ["eval", "cb", "--data", digits!, "--limit", "100", "--format", "json"];
    const named = JSON.parse(await runCli([...args, "--policy", "default"]));
    expect(named.spec).toEqual(DEFAULT_POLICY_SPEC);
    expect(JSON.parse(await runCli(args)).spec).toEqual(DEFAULT_POLICY_SPEC);
  });
});
