import { describe, expect, it } from "vitest";
import type { LoopwiseError } from "../core/errors.js";
import { parseConfig } from "./config.js";
import { personalizerDaysOfRetention, retentionFromPersonalizerDays } from "./log-retention-config.js";
import { serviceConfiguration } from "./personalizer-mapping.js";

const DAY = 24 * 3_600_000;

function fieldErrors(input: unknown): { path: string; message: string }[] {
  try {
    parseConfig(input);
  } catch (error) {
    return (error as LoopwiseError).errors ?? [];
  }
  return [];
}

describe("log.retention", () => {
  it("keeps the log forever by default, and takes a duration or 'forever'", () => {
    expect(parseConfig({}).log).toEqual({ retention: undefined, retentionEvery: 3_600_000, partitionsAhead: 7 });
    expect(parseConfig({ log: { retention: "forever" } }).log.retention).toBeUndefined();
    expect(parseConfig({ log: { retention: "90d" } }).log.retention).toBe(90 * DAY);
    expect(parseConfig({ log: { retention: 31 * DAY } }).log.retention).toBe(31 * DAY);
  });

  it("refuses a retention shorter than the longest window that reads the log, naming the field and the window", () => {
    // The recommender trains on 30 days by default: 14 days would delete its training data.
    const errors = fieldErrors({ log: { retention: "14d" } });
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe("config.log.retention");
    expect(errors[0]?.message).toMatch(/at least 30d.*recommend\.trainWindow/);
    // With a shorter training window, the OPE gate's window is the floor.
    const shorter = { recommend: { trainWindow: "3d" }, rollouts: { opeGateLookback: "10d" } };
    expect(parseConfig({ ...shorter, log: { retention: "10d" } }).log.retention).toBe(10 * DAY);
    expect(fieldErrors({ ...shorter, log: { retention: "9d" } })[0]?.message).toMatch(/opeGateLookback/);
    expect(fieldErrors({ log: { retention: "soon" } })[0]).toMatchObject({ path: "config.log.retention" });
    expect(fieldErrors({ log: { retention: 0 } })[0]).toMatchObject({ path: "config.log.retention" });
    expect(fieldErrors({ log: { partitionsAhead: 1 } })[0]).toMatchObject({ path: "config.log.partitionsAhead" });
  });

  it("maps Personalizer's logRetentionDays both ways (-1 is forever)", () => {
    expect(retentionFromPersonalizerDays(-1)).toBe("forever");
    expect(retentionFromPersonalizerDays(90)).toBe(90 * DAY);
    expect(() => retentionFromPersonalizerDays(0)).toThrow(/logRetentionDays/);
    expect(() => retentionFromPersonalizerDays(1.5)).toThrow(/logRetentionDays/);
    expect(personalizerDaysOfRetention(undefined)).toBe(-1);
    expect(personalizerDaysOfRetention(90 * DAY)).toBe(90);
    expect(personalizerDaysOfRetention(36 * 3_600_000)).toBe(2); // kept at least that long: rounded up
    const base = { rewardWindowMs: 60_000, defaultReward: 0, aggregation: "earliest" as const };
    expect(serviceConfiguration(base, "iso").logRetentionDays).toBe(-1);
    const days = parseConfig({ log: { retention: retentionFromPersonalizerDays(45) } }).log.retention;
    expect(serviceConfiguration({ ...base, ...(days ? { logRetentionMs: days } : {}) }, "iso").logRetentionDays).toBe(
      45,
    );
  });
});
