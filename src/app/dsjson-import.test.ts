import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createPolicy } from "../bandit/policy-types.js";
import { runCliInProcess } from "../cli/test-cli.js";
import { ManualClock } from "../core/clock.js";
import { joinRewards } from "../decisions/reward-join.js";
import { parseDsjson } from "../ope/sources/dsjson-source.js";
import { readDecisionLog } from "../ope/sources/loopwise-source.js";
import { openSqliteDecisionStore } from "../storage/sqlite/decision-store-sqlite.js";
import { importDsjson } from "./dsjson-import.js";
import { parsePersonalizer, personalizerMultiSlotRankSchema, slotRanks } from "./personalizer-mapping.js";
import { warmStart } from "./warm-start.js";

const samplePath = new URL("../../spec/ope/dsjson-sample.dsjson", import.meta.url);
const sample = readFileSync(samplePath, "utf8");
/** Hand-computed from the sample (spec/ope/dsjson-expected.json). */
const expected = JSON.parse(readFileSync(new URL("../../spec/ope/dsjson-expected.json", import.meta.url), "utf8"));
const join10m = { windowMs: 600_000, defaultReward: 0, aggregation: "earliest" as const };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("importing an exported Personalizer log (DSJSON) into the decision log", () => {
  it("logs each labelled event as a decision with its propensity, distribution and joined reward; once", async () => {
    const { decisions, store } = openSqliteDecisionStore(":memory:");
    const result = await importDsjson(decisions, sample, 600_000);
    expect(result).toMatchObject({ imported: 4, duplicates: 0, skipped: { no_label: 1 } });
    expect((await importDsjson(decisions, sample, 600_000)).duplicates).toBe(4);
    const e1 = await decisions.get("e1");
    expect(e1?.decision.slots[0]).toMatchObject({ itemId: "hat", propensity: 0.8, index: 1 });
    expect(e1?.decision.slots[0]?.probabilities).toEqual(expected.loggingDistributionRound0);
    expect(e1?.decision.context).toEqual(expected.contextRound0);
    expect(e1?.decision.candidates[0]).toEqual({ id: "shoes", features: { price: 59.9 } });
    const join = joinRewards(e1 as NonNullable<typeof e1>, join10m, Date.UTC(2026, 1, 1));
    expect(join.total).toBe(1);
    // The decision log now reads as the DSJSON reader read the file: same rewards and propensities.
    const log = await readDecisionLog(decisions, { join: join10m, now: Date.UTC(2026, 1, 1) });
    expect(log.rounds.map((r) => r.reward)).toEqual(expected.reward);
    expect(log.rounds.map((r) => r.propensity)).toEqual(expected.propensity);
    await store.close();
  });

  it("reads a multi-slot (CCB) export: one round and one decision per labelled slot, as the live route logs them", async () => {
    const ccb = readFileSync(new URL("../../spec/ope/dsjson-ccb-sample.dsjson", import.meta.url), "utf8");
    const parsed = parseDsjson(ccb);
    expect(parsed.skipped).toEqual({ no_label: 1 }); // ms-2's second slot has no _label_cost
    expect(parsed.rounds).toHaveLength(3);
    const [main, side] = parsed.rounds;
    expect(main?.candidates.map((c) => c.id)).toEqual(["shoes", "hat", "scarf"]);
    expect(main).toMatchObject({ action: 1, propensity: 0.7, position: 0, reward: 1, placedBefore: [] });
    expect(Array.from(main?.probabilities ?? [])).toEqual([0.2, 0.7, 0.1]);
    // The second slot chooses among what the first did not take, in c._multi order.
    expect(side?.candidates.map((c) => c.id)).toEqual(["shoes", "scarf"]);
    expect(side).toMatchObject({ action: 1, propensity: 0.6, reward: 0 });
    expect(Array.from(side?.probabilities ?? [])).toEqual([0.4, 0.6]);
    // The context a live multi-slot rank of the same request logs (app/personalizer-mapping.ts), name for name.
    const live = slotRanks(
      parsePersonalizer(personalizerMultiSlotRankSchema, {
        contextFeatures: [{ User: { tier: "gold" } }, { hour: 10 }],
        actions: ["shoes", "hat", "scarf"].map((id) => ({ id })),
        slots: [{ id: "Main Article", baselineAction: "shoes", features: [{ size: "Large" }] }],
      }),
      "ms-1",
    );
    expect(main?.context).toEqual(live[0]?.rank([], 0).context);

    const { decisions, store } = openSqliteDecisionStore(":memory:");
    expect(await importDsjson(decisions, ccb, 600_000)).toMatchObject({ imported: 3, skipped: { no_label: 1 } });
    expect((await importDsjson(decisions, ccb, 600_000)).duplicates).toBe(3);
    const slot0 = (await decisions.get("ms-1:0"))?.decision;
    expect(slot0).toMatchObject({ userId: "ms-1", slots: [{ itemId: "hat", propensity: 0.7 }] });
    expect((await decisions.get("ms-1:1"))?.decision.candidates.map((c) => c.id)).toEqual(["shoes", "scarf"]);
    expect((await decisions.get("ms-2:0"))?.rewards.map((r) => r.value)).toEqual([0.5]);
    expect(await decisions.get("ms-2:1")).toBeUndefined();
    await store.close();
  });

  it("a new policy warm-starts on the imported history", async () => {
    const { decisions, store } = openSqliteDecisionStore(":memory:");
    await importDsjson(decisions, sample, 600_000);
    const policy = createPolicy("fresh", { type: "thompson" });
    const clock = new ManualClock(Date.UTC(2026, 1, 1));
    const trained = await warmStart({ decisions, joinConfig: join10m, clock }, policy);
    expect(trained).toMatchObject({ decisions: 4, rounds: 4 });
    expect((policy.describe().progress as { updates: number }).updates).toBe(4);
    await store.close();
  });

  it("`loopwise import FILE` writes into the data dir's log", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-import-"));
    dirs.push(dir);
    const out = await runCliInProcess(["import", samplePath.pathname, "--data-dir", dir]);
    expect(out).toContain("imported 4 decisions from 2026-01-01T10:00:00.000Z");
    expect(out).toContain("1 no_label");
    const { decisions, store } = openSqliteDecisionStore(join(dir, "loopwise.db"));
    expect(await decisions.count()).toBe(4);
    await store.close();
  });

  it("`loopwise import FOLDER` reads every file of an export's dated folders, line by line, and names a bad line's file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-import-"));
    dirs.push(dir);
    const lines = sample.trim().split("\n");
    const ccb = readFileSync(new URL("../../spec/ope/dsjson-ccb-sample.dsjson", import.meta.url), "utf8");
    const exportDir = join(dir, "export");
    mkdirSync(join(exportDir, "2026", "01"), { recursive: true });
    writeFileSync(join(exportDir, "2026", "01", "01_10.json"), `${lines.slice(0, 3).join("\r\n")}\r\n`);
    writeFileSync(join(exportDir, "2026", "01", "01_11.json"), `${lines.slice(3).join("\n")}\n${ccb}`);
    writeFileSync(join(exportDir, "README.txt"), "not a log");
    const cli = (...args: string[]) => runCliInProcess(["import", ...args, "--data-dir", join(dir, "data")]);
    expect(await cli(exportDir)).toContain("imported 7 decisions"); // 4 one-slot events and 3 labelled slots
    writeFileSync(join(exportDir, "2026", "01", "01_12.json"), `${lines[0]}\n{"truncated": `);
    await expect(cli(exportDir)).rejects.toThrow(
      /01_12\.json: DSJSON line 2: not valid JSON \(0 decisions imported before it/,
    );
  });
});
