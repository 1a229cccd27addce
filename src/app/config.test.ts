import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("configuration", () => {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-config-"));
  writeFileSync(
    join(dir, "loopwise.config.json"),
    JSON.stringify({ port: 9000, logLevel: "warn", rewards: { window: "5m" } }),
  );

  it("takes defaults, then the file, then env, then flags", () => {
    expect(loadConfig({ cwd: mkdtempSync(join(tmpdir(), "loopwise-empty-")) })).toMatchObject({
      port: 8080,
      dataDir: "./data",
    });
    const fromFile = loadConfig({ cwd: dir });
    expect(fromFile).toMatchObject({
      port: 9000,
      logLevel: "warn",
      rewards: { window: 300_000, aggregation: "earliest" },
    });
    const fromEnv = loadConfig({ cwd: dir, env: { PORT: "9100", LOOPWISE_DATA_DIR: "/srv/lw" } });
    expect(fromEnv).toMatchObject({ port: 9100, dataDir: "/srv/lw", logLevel: "warn" });
    const fromFlags = loadConfig({ cwd: dir, env: { PORT: "9100" }, flags: { port: "9200", logLevel: undefined } });
    expect(fromFlags).toMatchObject({ port: 9200, logLevel: "warn" });
  });

  it("names the bad setting and its problem", () => {
    expect(() => loadConfig({ cwd: dir, env: { PORT: "eighty" } })).toThrow(/config\.port/);
    expect(() => loadConfig({ cwd: dir, flags: { rewards: { window: "soon" } } })).toThrow(
      /config\.rewards\.window.*not a duration/,
    );
    expect(() => loadConfig({ cwd: dir, file: "missing.json" })).toThrow(/does not exist/);
    writeFileSync(join(dir, "broken.json"), "{ nope");
    expect(() => loadConfig({ cwd: dir, file: "broken.json" })).toThrow(/not valid JSON/);
  });

  it("refuses a setting it does not know, at any depth, suggesting the near name, instead of ignoring it", () => {
    const refusal = (file: object) => {
      writeFileSync(join(dir, "typo.json"), JSON.stringify(file));
      try {
        loadConfig({ cwd: dir, file: "typo.json" });
      } catch (e) {
        return (e as Error).message;
      }
      return "accepted";
    };
    expect(refusal({ reward: { window: "10m" } })).toBe(
      'invalid configuration: config.reward: unknown setting "reward" (did you mean "rewards"?)',
    );
    expect(refusal({ rewards: { windw: "10m" } })).toMatch(/config\.rewards\.windw: unknown setting .*"window"/);
    expect(refusal({ features: { custom: [{ name: "n", kind: "count", extra: 1 }] } })).toMatch(
      /config\.features\.custom\[0\]\.extra: unknown setting "extra"/,
    );
    expect(refusal({ zzz: 1 })).toMatch(/unknown setting "zzz" \(known: role, port, host/);
    // Open-ended maps take any key; a known key with a bad value still gets its own error beside the unknown one.
    expect(refusal({ rewards: { eventMapping: { add_to_cart: 0.2 } } })).toBe("accepted");
    expect(refusal({ port: "x", prot: 1 })).toMatch(/config\.prot: unknown setting.*config\.port/);
  });

  it("requires keys unless auth is none, and has no rate limit unless configured", () => {
    const empty = mkdtempSync(join(tmpdir(), "loopwise-empty-"));
    const defaults = loadConfig({ cwd: empty });
    expect(defaults.auth).toBe("keys");
    expect(defaults.rateLimit).toBeUndefined();
    expect(loadConfig({ cwd: empty, env: { LOOPWISE_AUTH: "none" } }).auth).toBe("none");
    expect(() => loadConfig({ cwd: empty, env: { LOOPWISE_AUTH: "off" } })).toThrow(/config\.auth/);
    const limited = loadConfig({ cwd: empty, flags: { rateLimit: { max: 100, timeWindow: "10s" } } });
    expect(limited.rateLimit).toEqual({ max: 100, timeWindow: 10_000 });
    expect(() => loadConfig({ cwd: empty, flags: { rateLimit: { max: 0 } } })).toThrow(/config\.rateLimit\.max/);
  });

  it("takes the event dedup window as a positive integer, from env too, and names it when it is not one", () => {
    const empty = mkdtempSync(join(tmpdir(), "loopwise-empty-"));
    expect(loadConfig({ cwd: empty }).ingest.dedupWindow).toBe(2_000_000);
    expect(loadConfig({ cwd: empty, env: { LOOPWISE_DEDUP_WINDOW: "500000" } }).ingest.dedupWindow).toBe(500_000);
    expect(loadConfig({ cwd: empty, flags: { ingest: { dedupWindow: 1 } } }).ingest.dedupWindow).toBe(1);
    for (const bad of [0, -5, 1.5, "many", 50_000_001]) {
      let error: unknown;
      try {
        loadConfig({ cwd: empty, flags: { ingest: { dedupWindow: bad } } });
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({
        code: "VALIDATION_FAILED",
        message: expect.stringMatching(/config\.ingest\.dedupWindow/),
      });
    }
  });

  it("takes the log writer's group commit delay in ms, off by default, from env too, and names it when it is out of range", () => {
    const empty = mkdtempSync(join(tmpdir(), "loopwise-empty-"));
    expect(loadConfig({ cwd: empty }).storage.groupCommitMs).toBe(0);
    expect(loadConfig({ cwd: empty, env: { LOOPWISE_GROUP_COMMIT_MS: "2.5" } }).storage.groupCommitMs).toBe(2.5);
    for (const bad of [-1, 51, "soon"]) {
      expect(() => loadConfig({ cwd: empty, flags: { storage: { groupCommitMs: bad } } })).toThrow(
        /config\.storage\.groupCommitMs/,
      );
    }
  });

  it("takes the decision journal switch, on by default, as true/false from env too, and names it when it is neither", () => {
    const empty = mkdtempSync(join(tmpdir(), "loopwise-empty-"));
    expect(loadConfig({ cwd: empty }).storage.decisionJournal).toBe(true);
    expect(loadConfig({ cwd: empty, env: { LOOPWISE_DECISION_JOURNAL: "false" } }).storage.decisionJournal).toBe(false);
    expect(loadConfig({ cwd: empty, env: { LOOPWISE_DECISION_JOURNAL: "true" } }).storage.decisionJournal).toBe(true);
    expect(loadConfig({ cwd: empty, flags: { storage: { decisionJournal: false } } }).storage.decisionJournal).toBe(
      false,
    );
    for (const bad of ["yes", "0", 1]) {
      expect(() => loadConfig({ cwd: empty, flags: { storage: { decisionJournal: bad } } })).toThrow(
        /config\.storage\.decisionJournal/,
      );
    }
  });

  it("takes the learner's slack and settle as durations, from env too, and refuses a settle above the slack", () => {
    const empty = mkdtempSync(join(tmpdir(), "loopwise-empty-"));
    expect(loadConfig({ cwd: empty }).workers).toMatchObject({ learnerSlack: 5_000, learnerSettle: 1_000 });
    const env = { LOOPWISE_LEARNER_SLACK: "30s", LOOPWISE_LEARNER_SETTLE: "2500ms" };
    expect(loadConfig({ cwd: empty, env }).workers).toMatchObject({ learnerSlack: 30_000, learnerSettle: 2_500 });
    const zero = loadConfig({ cwd: empty, flags: { workers: { learnerSlack: 0, learnerSettle: 0 } } });
    expect(zero.workers).toMatchObject({ learnerSlack: 0, learnerSettle: 0 });
    expect(() => loadConfig({ cwd: empty, flags: { workers: { learnerSettle: "6s" } } })).toThrow(
      /config\.workers\.learnerSettle: must be at most workers\.learnerSlack \(5000 ms\), got 6000 ms/,
    );
    expect(() => loadConfig({ cwd: empty, flags: { workers: { learnerSlack: -1 } } })).toThrow(
      /config\.workers\.learnerSlack/,
    );
    expect(() => loadConfig({ cwd: empty, env: { LOOPWISE_LEARNER_SETTLE: "-1s" } })).toThrow(
      /config\.workers\.learnerSettle.*not a duration/,
    );
  });
});
