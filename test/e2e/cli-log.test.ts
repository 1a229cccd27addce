import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../../src/app/engine.js";
import { entryArgs } from "./entry.js";

const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), "loopwise-cli-"));
const configFile = join(dataDir, "loopwise.config.json");
const cli = (...args: string[]) =>
  run(process.execPath, [...entryArgs("cli/index"), ...args, "--config", configFile], {
    cwd: join(import.meta.dirname, "../.."),
  });
let decisionIds: string[] = [];

beforeAll(async () => {
  // The CLI reads the same config file as the server, so both agree on the join (window 0: closed at once).
  writeFileSync(configFile, JSON.stringify({ rewards: { window: 0 } }));
  const engine = await createEngine({ dataDir, logger: pino({ level: "silent" }), config: { rewards: { window: 0 } } });
  const ranks = [];
  for (let i = 0; i < 3; i++)
    ranks.push(
      await engine.rank({ userId: `u${i}`, candidates: [{ id: "a" }, { id: "b" }], slots: 2, policyId: "uniform" }),
    );
  decisionIds = ranks.map((r) => r.decisionId);
  await engine.ingestEvents({ events: [{ type: "view", userId: "u0", itemId: "a" }] });
  await engine.close();
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("loopwise log", () => {
  it("exports JSONL, one complete decision a line with its join", async () => {
    const { stdout } = await cli("log", "export", "--data-dir", dataDir);
    const lines = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.decisionId)).toEqual(decisionIds);
    expect(lines[0].slots).toHaveLength(2);
    expect(lines[0].join.status).toBe("defaulted"); // window 0: closed at once, default reward 0
    // Every time in a record is ISO-8601 (as the API returns them), none epoch milliseconds.
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
    expect(lines[0].timestamp).toMatch(iso);
    expect(lines[0].activatedAt).toMatch(iso);
    expect(lines[0].join.windowClosesAt).toMatch(iso);
    for (const line of lines)
      expect(timeFieldsOf(line).filter(([, v]) => typeof v !== "string" || !iso.test(v))).toEqual([]);
  });

  it("exports Parquet, one slot a row, readable by a Parquet reader", async () => {
    const out = join(dataDir, "log.parquet");
    await cli("log", "export", "--format", "parquet", "--out", out, "--data-dir", dataDir);
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(out) });
    expect(rows).toHaveLength(6);
    expect(rows[0]).toMatchObject({
      decision_id: decisionIds[0],
      position: 0,
      propensity: 0.5,
      reward: 0,
      join_status: "defaulted",
    });
    expect(rows[1]).toMatchObject({ position: 1, propensity: 1 });
    expect(readFileSync(out).subarray(0, 4).toString()).toBe("PAR1");
  });

  it("exports DSJSON, one shown slot a line, that the DSJSON reader reads back", async () => {
    const { stdout } = await cli("log", "export", "--format", "dsjson", "--data-dir", dataDir);
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(6);
    const first = JSON.parse(lines[0] as string);
    expect(first).toMatchObject({ EventId: `${decisionIds[0]}:0`, _label_cost: 0, _label_probability: 0.5 });
    expect(first.c._multi.map((m: { id: string }) => m.id).sort()).toEqual(["a", "b"]);
    const { parseDsjson } = await import("../../src/ope/sources/dsjson-source.js");
    expect(parseDsjson(stdout).rounds).toHaveLength(6);
  });

  it("prints stats, and fails clearly on bad options", async () => {
    const { stdout } = await cli("log", "stats", "--format", "json", "--data-dir", dataDir);
    expect(JSON.parse(stdout)).toMatchObject({ events: 1, decisions: 3, slots: 6, joinStatus: { defaulted: 6 } });
    await expect(cli("log", "export", "--format", "xml", "--data-dir", dataDir)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("--format must be jsonl, parquet or dsjson"),
    });
    await expect(cli("log", "export", "--from", "last tuesday", "--data-dir", dataDir)).rejects.toMatchObject({
      code: 1,
    });
  });
});

/** Every [path, value] whose key names a time (timestamp, …At), at any depth of a record. */
function timeFieldsOf(value: unknown, path = ""): [string, unknown][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => timeFieldsOf(v, `${path}[${i}]`));
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([k, v]): [string, unknown][] =>
    /^timestamp$|At$/.test(k) && (typeof v !== "object" || v === null)
      ? [[`${path}.${k}`, v]]
      : timeFieldsOf(v, `${path}.${k}`),
  );
}
