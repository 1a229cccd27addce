import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sharedDataDir } from "../core/data-dir.js";
import { evaluateLog } from "./evaluate-log.js";
import { parseObdCsv } from "./sources/obd-source.js";
import { uniformTarget } from "./targets.js";

/**
 * The Open Bandit Dataset sample (bts/men: propensities vary from 1.6e-4 to 0.73): the pipeline's IPS,
 * SNIPS, DM and DR for the uniform policy must equal the formulas computed here directly from the CSV
 * columns (OBP definitions; tabular q̂ per (item, position)), to floating-point precision.
 */
const dataDir = sharedDataDir();
const file = dataDir && join(dataDir, "obd/bts/men/men.csv");
if (!dataDir)
  console.log("skipping OBD formula check: no shared data dir (set LOOPWISE_DATA or provide ../shared/data)");

describe.skipIf(!file)("OBD bts/men: estimates equal the formulas", () => {
  it("IPS, SNIPS, DM and DR for the uniform policy", async () => {
    const text = readFileSync(file as string, "utf8");
    // Independent reading: columns by header name, OBP's dense-rank positions.
    const lines = text.trim().split("\n");
    const header = (lines[0] as string).split(",");
    const [iItem, iPos, iClick, iProp] = ["item_id", "position", "click", "propensity_score"].map((c) =>
      header.indexOf(c),
    );
    const rows = lines.slice(1).map((l) => l.split(","));
    const item = rows.map((r) => Number(r[iItem as number]));
    const pos = rows.map((r) => Number(r[iPos as number]) - 1);
    const click = rows.map((r) => Number(r[iClick as number]));
    const pscore = rows.map((r) => Number(r[iProp as number]));
    const nItems = 34;
    const n = rows.length;
    const w = pscore.map((p) => 1 / nItems / p);
    const ips = click.reduce((s, r, i) => s + r * (w[i] as number), 0) / n;
    const snips = click.reduce((s, r, i) => s + r * (w[i] as number), 0) / w.reduce((s, x) => s + x, 0);
    const global = click.reduce((s, r) => s + r, 0) / n;
    const cell = new Map<string, [number, number]>();
    rows.forEach((_, i) => {
      const key = `${item[i]},${pos[i]}`;
      const [s, c] = cell.get(key) ?? [0, 0];
      cell.set(key, [s + (click[i] as number), c + 1]);
    });
    const qHat = (a: number, k: number) => {
      const found = cell.get(`${a},${k}`);
      return found ? found[0] / found[1] : global;
    };
    const dmTerm = (k: number) =>
      Array.from({ length: nItems }, (_, a) => qHat(a, k)).reduce((s, q) => s + q, 0) / nItems;
    const dm = pos.reduce((s, k) => s + dmTerm(k), 0) / n;
    const dr =
      rows.reduce(
        (s, _, i) =>
          s +
          dmTerm(pos[i] as number) +
          (w[i] as number) * ((click[i] as number) - qHat(item[i] as number, pos[i] as number)),
        0,
      ) / n;

    const result = await evaluateLog(parseObdCsv(text), [uniformTarget()], {
      estimators: ["ips", "snips", "dm", "dr"],
      rewardModel: "tabular",
    });
    const value = (name: string) => result.targets[0]?.estimates.find((e) => e.estimator === name)?.value as number;
    expect(result.n).toBe(10_000);
    for (const [name, expected] of [
      ["ips", ips],
      ["snips", snips],
      ["dm", dm],
      ["dr", dr],
    ] as const) {
      expect(Math.abs(value(name) - expected)).toBeLessThan(1e-12 * Math.max(1, Math.abs(expected)));
    }
  });
});
