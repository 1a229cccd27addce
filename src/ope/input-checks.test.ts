import { describe, expect, it } from "vitest";
import { clampVariance } from "../bandit/policies/thompson.js";
import { createPolicy } from "../bandit/policy-types.js";
import { rngFor } from "../core/rng.js";
import { snips } from "./estimators/snips.js";
import { evaluateLog } from "./evaluate-log.js";
import type { LoggedRound } from "./logged-round.js";
import { parseDsjson } from "./sources/dsjson-source.js";
import { parseObdCsv } from "./sources/obd-source.js";
import { matrixTarget } from "./targets.js";

/** Issue 14, defect 10: OPE inputs that would give Infinity/NaN, or a fake 0, are refused or reported. */

const obd = (propensity: string) =>
  ["item_id,position,click,propensity_score", "0,1,1,0.5", `1,2,0,${propensity}`, "2,1,0,0.25"].join("\n");

const dsjsonLine = (p: number | null) =>
  JSON.stringify({ _label_cost: -1, _label_probability: p, a: [1, 2], p: [p, 0.5], c: { u: 1, _multi: [{}, {}] } });

describe("logged propensities", () => {
  it("refuses an OBD row whose propensity is 0, NaN or above 1, naming the row", () => {
    for (const p of ["0", "NaN", "", "1.5", "-0.2"]) {
      expect(() => parseObdCsv(obd(p))).toThrow(/OBD CSV data row 2: propensity .* is not a probability in \(0, 1\]/);
    }
    expect(parseObdCsv(obd("0.125")).rounds.map((r) => r.propensity)).toEqual([0.5, 0.125, 0.25]);
  });

  it("refuses an OBD row whose item, position or click is not a number, and a file that is not an OBD log", () => {
    const rows = (row: string) => ["item_id,position,click,propensity_score", "0,1,1,0.5", row].join("\n");
    expect(() => parseObdCsv(rows("x,1,0,0.5"))).toThrow('OBD CSV data row 2: item_id "x" is not an item index');
    expect(() => parseObdCsv(rows("-1,1,0,0.5"))).toThrow(/item_id "-1" is not an item index/);
    expect(() => parseObdCsv(rows("1,,0,0.5"))).toThrow('OBD CSV data row 2: position "" is not a number');
    expect(() => parseObdCsv(rows("1,2"))).toThrow('OBD CSV data row 2: click "" is not a number');
    expect(() => parseObdCsv("item_id,position,click,propensity_score")).toThrow(/no data rows/);
    const itemContext = ",item_id,item_feature_0,item_feature_1\n0,0,-0.5,abc";
    expect(() => parseObdCsv(itemContext)).toThrow(/this is an item_context.csv .* not a log/);
    expect(() => parseObdCsv("a,b\n1,2")).toThrow(/missing column "item_id" \(an OBD log has/);
  });

  it("reads a multi-slot DSJSON event with a null or missing slot, and refuses one whose slot names an unknown action", () => {
    const ccb = (slots: unknown, a: number[]) =>
      JSON.stringify({
        c: { _multi: [{}, {}], _slots: slots },
        _outcomes: [{ _label_cost: -1, _a: a, _p: [0.5, 0.5] }],
      });
    expect(parseDsjson(ccb([null], [1, 0])).rounds[0]?.context).toEqual({ "slot.id": "0" });
    expect(parseDsjson(ccb(undefined, [1, 0])).rounds[0]?.action).toBe(1);
    expect(() => parseDsjson(ccb([], [2, 0]))).toThrow("DSJSON line 1, _outcomes[0]: action 2 is not in c._multi");
    expect(() => parseDsjson(ccb([], [0]))).toThrow(/"_a" and "_p" must be non-empty arrays of the same length/);
    // The file's defect, not the program's: a 400 over HTTP, exit 1 in the CLI.
    expect(() => parseDsjson("{not json")).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED", message: "DSJSON line 1: not valid JSON" }),
    );
  });

  it("refuses a DSJSON event whose propensity is 0 or missing, naming the line", () => {
    const good = dsjsonLine(0.5);
    expect(() => parseDsjson([good, dsjsonLine(0)].join("\n"))).toThrow(/DSJSON line 2: propensity 0/);
    expect(() => parseDsjson([good, good, dsjsonLine(null)].join("\n"))).toThrow(/DSJSON line 3/);
    expect(parseDsjson(good).rounds[0]?.propensity).toBe(0.5);
  });
});

describe("SNIPS with no weight", () => {
  it("throws rather than answering 0 when the target never chose a logged action", () => {
    const input = {
      reward: Float64Array.of(1, 0),
      propensity: Float64Array.of(0.5, 0.5),
      targetProb: Float64Array.of(0, 0),
      qLogged: new Float64Array(2),
      qTarget: new Float64Array(2),
    };
    expect(() => snips.terms(input, {})).toThrow(/undefined: no weight/);
  });

  it("reports the estimate as unavailable with the reason in an evaluation", async () => {
    const candidates = [{ id: "a" }, { id: "b" }];
    const rounds: LoggedRound[] = [0, 0, 0].map((action) => ({
      context: {},
      candidates,
      position: 0,
      action,
      propensity: 0.5,
      placedBefore: [],
      reward: 1,
    }));
    // The target always picks b (index 1); the log only ever shows a.
    const never = matrixTarget("always-b", { rows: 3, k: 2, values: Float64Array.of(0, 1, 0, 1, 0, 1) });
    const result = await evaluateLog({ source: "test", rounds, skipped: {}, notes: [] }, [never], {
      estimators: ["ips", "snips"],
      rewardModel: "tabular",
    });
    const byName = Object.fromEntries(result.targets[0]!.estimates.map((e) => [e.estimator, e]));
    expect(byName.ips?.value).toBe(0);
    expect(byName.snips?.value).toBeUndefined();
    expect(byName.snips?.error).toMatch(/no weight/);
  });
});

describe("Thompson sampling's predictive variance", () => {
  it("is clamped to a small positive floor, so rounding never yields NaN scores", () => {
    expect(clampVariance(-1e-18)).toBeGreaterThan(0);
    expect(clampVariance(Number.NaN)).toBeGreaterThan(0);
    expect(clampVariance(0.25)).toBe(0.25);
    const policy = createPolicy("t", { type: "thompson", features: { dims: 1024 } });
    const model = (policy as unknown as { model: { predict: (...a: unknown[]) => { variance: Float64Array } } }).model;
    const predict = model.predict.bind(model);
    model.predict = (...args: unknown[]) => {
      const out = predict(...args);
      out.variance.fill(-1e-17); // what a rounding downdate can leave
      out.variance[1] = Number.NaN;
      return out;
    };
    const input = { context: { d: 1 }, candidates: [{ id: "a" }, { id: "b" }, { id: "c" }] };
    const p = policy.distribution(input, []);
    expect([...p].every(Number.isFinite)).toBe(true);
    // Equal means and equal (clamped) variances: each candidate wins about a third of the samples. A NaN
    // score would never win a comparison and b would only get the exploration floor.
    expect(p[1]).toBeGreaterThan(0.15);
    expect(p.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 9);
    const choices = policy.rank(input, 3, rngFor("explore", "d"));
    expect(choices.every((c) => Number.isFinite(c.propensity) && c.propensity > 0)).toBe(true);
  });
});
