import { describe, expect, it } from "vitest";
import { checkRole, loadConfig } from "./config.js";
import { publishesToStream, runsInProcessDuties, runsWorkerDuties } from "./engine.js";

const shared = { LOOPWISE_REDIS_URL: "redis://127.0.0.1:6390", LOOPWISE_POSTGRES_URL: "postgres://db/lw" };

describe("roles (issue 13)", () => {
  it("defaults to all, and takes LOOPWISE_ROLE, LOOPWISE_PORT and the lease ttl from the environment", () => {
    expect(loadConfig({ cwd: "/nonexistent" }).role).toBe("all");
    const config = loadConfig({
      cwd: "/nonexistent",
      env: {
        ...shared,
        LOOPWISE_ROLE: "worker",
        LOOPWISE_PORT: "9301",
        LOOPWISE_LEASE_TTL: "3s",
        LOOPWISE_REDIS_PREFIX: "lw2",
      },
    });
    expect(config).toMatchObject({ role: "worker", port: 9301, workers: { leaseTtl: 3000 } });
    expect(config.storage.redisPrefix).toBe("lw2");
    expect(() => loadConfig({ cwd: "/nonexistent", env: { LOOPWISE_ROLE: "leader" } })).toThrow(/config\.role/);
  });

  it("refuses api and worker without the Redis and PostgreSQL they share, naming the variables", () => {
    const api = loadConfig({ cwd: "/nonexistent", env: { LOOPWISE_ROLE: "api" } });
    expect(() => checkRole(api)).toThrow(/LOOPWISE_REDIS_URL and LOOPWISE_POSTGRES_URL/);
    const worker = loadConfig({
      cwd: "/nonexistent",
      env: { LOOPWISE_ROLE: "worker", LOOPWISE_REDIS_URL: "redis://x" },
    });
    expect(() => checkRole(worker)).toThrow(/set LOOPWISE_POSTGRES_URL \(/);
    expect(() =>
      checkRole(loadConfig({ cwd: "/nonexistent", env: { ...shared, LOOPWISE_ROLE: "api" } })),
    ).not.toThrow();
    expect(() => checkRole(loadConfig({ cwd: "/nonexistent" }))).not.toThrow(); // all: embedded is fine
  });

  it("decides who runs what: embedded runs its loop in process; api publishes; worker runs duties; all scaled out both", () => {
    const of = (env: Record<string, string>) => {
      const c = loadConfig({ cwd: "/nonexistent", env });
      return [runsInProcessDuties(c), publishesToStream(c), runsWorkerDuties(c)];
    };
    expect(of({})).toEqual([true, false, false]);
    expect(of({ ...shared, LOOPWISE_ROLE: "api" })).toEqual([false, true, false]);
    expect(of({ ...shared, LOOPWISE_ROLE: "worker" })).toEqual([false, false, true]);
    expect(of(shared)).toEqual([false, true, true]);
    // Redis alone only shares the feature store: the loop stays embedded (each process its own SQLite log).
    expect(of({ LOOPWISE_REDIS_URL: shared.LOOPWISE_REDIS_URL as string })).toEqual([true, false, false]);
  });
});
