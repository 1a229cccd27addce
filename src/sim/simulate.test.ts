import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatReport, loadScenario, simulate } from "./simulate.js";

describe("simulate", () => {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-sim-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads scenarios by name or from a JSON file, validating the file", () => {
    const file = join(dir, "shop.json");
    writeFileSync(file, JSON.stringify({ name: "tiny", catalog: { items: 30 }, users: { count: 50 } }));
    const s = loadScenario(file);
    expect([s.name, s.catalog.items, s.users.count, s.sessions.slots]).toEqual(["tiny", 30, 50, 4]);
    writeFileSync(file, JSON.stringify({ sessions: { slots: 0 } }));
    expect(() => loadScenario(file)).toThrow(/scenario\.sessions\.slots/);
    writeFileSync(file, "{ nope");
    expect(() => loadScenario(file)).toThrow(/not valid JSON|JSON/);
    expect(() => loadScenario(join(dir, "missing.json"))).toThrow(/neither a built-in/);
  });

  it("needs exactly one target", async () => {
    await expect(simulate({ scenario: "default" })).rejects.toThrow(/exactly one/);
    await expect(simulate({ scenario: "default", inProcess: true, target: "http://127.0.0.1:1" })).rejects.toThrow(
      /exactly one/,
    );
  });

  it("runs in process on the fast clock and prints a readable summary", async () => {
    const report = await simulate({ scenario: "default", inProcess: true, days: 0.1, sessionsPerDay: 200 });
    expect(report.mode).toBe("fast");
    expect(report.simulated.days).toBe(0.1);
    expect(report.requests.errors).toBe(0);
    const text = formatReport(report);
    expect(text).toContain("scenario default on in-process (fast)");
    expect(text).toMatch(/policy \S+: decisions \d+/);
  });
});
