import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openApiKeys } from "../../app/api-keys.js";
import { RolloutController } from "../../app/rollout-controller.js";
import { ManualClock } from "../../core/clock.js";
import { isLoopwiseError } from "../../core/errors.js";
import { installAuth } from "../../server/auth.js";
import { rolloutsRoutes } from "../../server/routes/rollouts.js";
import { MemoryRolloutStore } from "../../storage/memory/rollout-store.js";
import { register } from "./rollout.js";

const KEY = "cli-test-admin-key-0123";
let app: FastifyInstance;
let url: string;
/** An empty data dir, so a ./data/admin-key in the working copy never stands in for the key under test. */
const emptyDataDir = mkdtempSync(join(tmpdir(), "loopwise-rollout-cli-"));

beforeAll(async () => {
  const controller = await RolloutController.open({ store: new MemoryRolloutStore(), clock: new ManualClock() });
  app = Fastify();
  app.setErrorHandler((error, _req, reply) => {
    if (isLoopwiseError(error))
      reply.code(error.status).send({ code: error.code, detail: error.message, errors: error.errors });
    else reply.code(500).send({ detail: String(error) });
  });
  const keys = openApiKeys(":memory:");
  await keys.put("admin", "admin", KEY);
  installAuth(app, keys);
  await app.register(rolloutsRoutes({ controller }));
  url = await app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await app.close();
  rmSync(emptyDataDir, { recursive: true, force: true });
});

/** Runs `loopwise rollout ...` in-process and returns what it printed on stdout. */
async function cli(...args: string[]): Promise<string> {
  return cliWithout(...args, "--url", url, "--data-dir", emptyDataDir);
}

/** The same, with only the flags given (for the defaults). */
async function cliWithout(...args: string[]): Promise<string> {
  const program = new Command("loopwise").exitOverride();
  register(program);
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(["node", "loopwise", "rollout", ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe("loopwise rollout", () => {
  it("starts, shows, pauses, resumes and aborts a rollout over HTTP", async () => {
    const started = JSON.parse(
      await cli(
        "start",
        "--candidate",
        "c1",
        "--incumbent",
        "i1",
        "--stages",
        "5,50,100",
        "--min-hold",
        "2h",
        "--max-drop-ctr",
        "0.03",
        "--no-ope-gate",
        "--api-key",
        KEY,
        "--format",
        "json",
      ),
    );
    expect(started).toMatchObject({ candidate: "c1", stages: [5, 50, 100], config: { minHoldMs: 7_200_000 } });
    expect(started.config.guardrails.ctr.maxRelativeDrop).toBe(0.03);
    expect(started.config.opeGate.enabled).toBe(false);
    const id = started.id as string;

    vi.stubEnv("LOOPWISE_ADMIN_KEY", KEY);
    try {
      const text = await cli("status", id);
      expect(text).toContain(`rollout ${id}: c1 vs i1`);
      expect(text).toContain("status running");
      expect(text).toMatch(/admin create 0% → 0%/);
      expect(text).toContain(
        "next tick: advance (no OPE gate)", // the reason's message; the code (ope_gate_disabled) is in the JSON
      );
      expect(await cli("status")).toContain(id);
      expect(JSON.parse(await cli("pause", id, "--format", "json")).status).toBe("paused");
      expect(await cli("resume", id)).toContain("status running");
      expect(JSON.parse(await cli("abort", id, "--format", "json")).status).toBe("aborted");
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("reports the server's errors and a missing key", async () => {
    await expect(cli("status", "nope", "--api-key", KEY)).rejects.toMatchObject({ code: "ROLLOUT_NOT_FOUND" });
    await expect(cli("status", "nope", "--api-key", "wrong-key")).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    vi.stubEnv("LOOPWISE_ADMIN_KEY", "");
    try {
      await expect(cli("status")).rejects.toThrow(/--api-key/);
    } finally {
      vi.unstubAllEnvs();
    }
    await expect(
      cli("start", "--candidate", "a", "--incumbent", "b", "--stages", "x", "--api-key", KEY),
    ).rejects.toThrow(/--stages must be a number/);
  });

  it("defaults to the config's port and the admin key the server wrote to the data dir", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "loopwise-rollout-cli-key-"));
    writeFileSync(join(dataDir, "admin-key"), `${KEY}\n`);
    vi.stubEnv("PORT", new URL(url).port);
    vi.stubEnv("LOOPWISE_ADMIN_KEY", "");
    try {
      // The rollout the first test aborted, listed by the server on PORT with the key from the data dir.
      expect(await cliWithout("status", "--data-dir", dataDir)).toMatch(/ro_\w+\s+aborted/);
    } finally {
      vi.unstubAllEnvs();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
