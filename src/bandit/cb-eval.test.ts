import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sharedDataDir } from "../core/data-dir.js";
import { Xoshiro128 } from "../core/rng.js";
import { actionCandidates, parseCbCsv, runProgressiveValidation } from "./cb-eval.js";
import { createPolicy, DEFAULT_POLICY_SPEC } from "./policy-types.js";

let clock = 0;
const now = () => (clock += 1);

describe("cb bake-off protocol", () => {
  it("parses numbers, drops zeros and keeps categories", () => {
    const d = parseCbCsv("t", "label,a,b\n1,0,x\n0,2.5,y\n2,3,?\n");
    expect(d.k).toBe(3);
    expect(Array.from(d.labels)).toEqual([1, 0, 2]);
    expect(d.contexts).toEqual([{ b: "x" }, { a: 2.5, b: "y" }, { a: 3, b: "?" }]);
    expect(actionCandidates(2)).toEqual([
      { id: "0", features: { action: "0" } },
      { id: "1", features: { action: "1" } },
    ]);
  });

  it("gives uniform exactly 1 - 1/K expected PV loss", () => {
    const rows = Array.from({ length: 40 }, (_, i) => `${i % 4},${i}`).join("\n");
    const d = parseCbCsv("t", `label,x\n${rows}\n`);
    const r = runProgressiveValidation(d, createPolicy("u", { type: "uniform" }), new Xoshiro128(1), now);
    expect(r.expectedPvLoss).toBeCloseTo(0.75, 12);
    expect(r.n).toBe(40);
  });

  const dir = sharedDataDir();
  const mushroom = dir && join(dir, "cb", "mushroom", "shuffled.csv");
  const hasData = Boolean(mushroom && existsSync(mushroom));
  if (!hasData) console.log("skipping the real-data bake-off check: ../shared/data/cb/mushroom is absent");
  it.runIf(hasData)("the default policy learns mushroom (first 1500 rows) far better than uniform", () => {
    const d = parseCbCsv("mushroom", readFileSync(mushroom!, "utf8"));
    const r = runProgressiveValidation(d, createPolicy("d", DEFAULT_POLICY_SPEC), new Xoshiro128(3), now, 1500);
    expect(r.expectedPvLoss).toBeLessThan(0.1);
    expect(r.greedyAccuracy).toBeGreaterThan(0.9);
  });
});
