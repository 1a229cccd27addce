import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { simulateDecisions } from "../../ope/simulate-decisions.js";
import { openSqliteDecisionStore } from "../../storage/sqlite/decision-store-sqlite.js";
import { runCliInProcess } from "../test-cli.js";

let dir = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "loopwise-evaluate-"));
  const { decisions, store } = openSqliteDecisionStore(join(dir, "loopwise.db"));
  const sim = simulateDecisions({ decisions: 400, candidates: 3, slots: 2, seed: 9 });
  await Promise.all(sim.decisions.map((d) => decisions.append(d)));
  await Promise.all(sim.rewards.map((r) => decisions.addReward(r, 600_000)));
  await store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => runCliInProcess(["evaluate", ...args]);

describe("loopwise evaluate", () => {
  it("evaluates the SQLite decision log as JSON: per target and estimator value, stderr, ci, diagnostics", async () => {
    const out = await cli([
      "--logs",
      "loopwise:",
      "--data-dir",
      dir,
      "--target",
      '{"type":"uniform"}',
      "--estimators",
      "ips,snips,dr",
      "--bootstrap",
      "100",
      "--seed",
      "4",
      "--format",
      "json",
    ]);
    const result = JSON.parse(out);
    expect(result.n).toBe(800);
    expect(result.targets.map((t: { target: string }) => t.target)).toEqual(["logging", "uniform", "spec:uniform"]);
    const est = result.targets[2].estimates[0];
    expect(Object.keys(est)).toEqual(expect.arrayContaining(["value", "stderr", "ci", "bootstrapCi"]));
    expect(result.targets[2].diagnostics.ess).toBeCloseTo(800, 6);
    // The simulated log is uniform: a uniform target has every weight 1, so IPS is the mean reward.
    expect(est.value).toBeCloseTo(result.onPolicy.value, 12);
  });

  it("writes a table and a self-contained HTML report", async () => {
    const table = await cli(["--logs", "loopwise:", "--data-dir", dir]);
    expect(table).toMatch(/target uniform \(uniform\)/);
    expect(table).toMatch(/SNDR/);
    const file = join(dir, "report.html");
    await cli(["--logs", "loopwise:", "--data-dir", dir, "--format", "html", "--out", file]);
    const html = readFileSync(file, "utf8");
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(3);
  });

  it("on a single round says there are too few rounds instead of printing NaN", async () => {
    const csv = join(dir, "one-round.csv");
    writeFileSync(csv, ",timestamp,item_id,position,click,propensity_score,user_feature_0\n0,t,0,1,1,0.5,a\n");
    const table = await cli(["--logs", `obd:${csv}`, "--estimators", "ips,snips"]);
    expect(table).toContain("1 rounds");
    expect(table).toContain("too few rounds");
    expect(table).not.toMatch(/NaN|Infinity/);
    const file = join(dir, "one-round.html");
    await cli(["--logs", `obd:${csv}`, "--estimators", "ips", "--format", "html", "--out", file]);
    const html = readFileSync(file, "utf8");
    expect(html).toContain("too few rounds");
    expect(html).not.toMatch(/NaN|Infinity/);
  });

  it("reads an OBD file and a per-round probability file", async () => {
    const csv = join(dir, "obd.csv");
    writeFileSync(
      csv,
      ",timestamp,item_id,position,click,propensity_score,user_feature_0\n0,t,0,1,1,0.5,a\n1,t,1,2,0,0.5,b\n2,t,1,1,1,0.5,a\n",
    );
    const probs = join(dir, "probs.csv");
    writeFileSync(probs, "p_0,p_1\n1,0\n1,0\n0,1\n");
    const result = JSON.parse(
      await cli(["--logs", `obd:${csv}`, "--target", `file:${probs}`, "--estimators", "ips", "--format", "json"]),
    );
    const file = result.targets.find((t: { target: string }) => t.target === "file:probs.csv");
    // Weights 2, 0, 2 on rewards 1, 0, 1: IPS = 4/3.
    expect(file.estimates[0].value).toBeCloseTo(4 / 3, 12);
  });

  it("reads DSJSON and takes repeated --target flags", async () => {
    const sample = fileURLToPath(new URL("../../../spec/ope/dsjson-sample.dsjson", import.meta.url));
    const expected = JSON.parse(
      readFileSync(new URL("../../../spec/ope/dsjson-expected.json", import.meta.url), "utf8"),
    );
    const result = JSON.parse(
      await cli([
        "--logs",
        `dsjson:${sample}`,
        "--target",
        "uniform",
        "--target",
        '{"type":"uniform"}',
        "--format",
        "json",
      ]),
    );
    expect(result.n).toBe(expected.rounds);
    expect(result.targets.map((t: { target: string }) => t.target)).toEqual(["logging", "uniform", "spec:uniform"]);
    const ips = result.targets[1].estimates.find((e: { estimator: string }) => e.estimator === "ips");
    expect(ips.value).toBeCloseTo(expected.uniform.ips, 12);
  });

  it("fails clearly without a decision log", async () => {
    await expect(cli(["--logs", "loopwise:", "--data-dir", join(dir, "missing")])).rejects.toThrow(/no decision log/);
    await expect(cli(["--logs", "obd:x.csv", "--clip", "abc"])).rejects.toThrow(/--clip must be a number/);
  });
});
