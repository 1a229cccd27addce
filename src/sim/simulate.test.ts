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

  it("starts the in-process engine with the scenario's engine section, checked by the engine's config schema", async () => {
    const file = join(dir, "engine.json");
    const shop = { catalog: { items: 30 }, users: { count: 50 }, sessions: { perDay: 200, candidates: 8 } };
    writeFileSync(file, JSON.stringify({ ...shop, engine: { rank: { maxCandidates: 0 } } }));
    await expect(simulate({ scenario: file, inProcess: true, days: 0.01 })).rejects.toThrow(
      /config\.rank\.maxCandidates/,
    );
    // Requests with 8 candidates against an engine that takes at most 5: every rank is refused.
    writeFileSync(file, JSON.stringify({ ...shop, engine: { rank: { maxCandidates: 5 } } }));
    const report = await simulate({ scenario: file, inProcess: true, days: 0.05 });
    expect(report.requests.byRoute.rank?.count).toBeGreaterThan(0);
    expect(report.requests.byRoute.rank?.errors).toBe(report.requests.byRoute.rank?.count);
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
