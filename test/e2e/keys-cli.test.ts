import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliInProcess } from "../../src/cli/test-cli.js";
import { killHard, randomPort, runCli, type ServerProcess, startServerProcess } from "./server-process.js";

const dataDir = mkdtempSync(join(tmpdir(), "loopwise-keys-e2e-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `loopwise keys ...` as a process (from the sources), against the running server's data dir; returns stdout. */
async function keysProcess(...args: string[]): Promise<string> {
  return (await runCli(["keys", ...args, "--data-dir", dataDir])).trim();
}

/** The same command run in this process (the CLI's own program; a process start costs seconds here). */
async function keys(...args: string[]): Promise<string> {
  return (await runCliInProcess(["keys", ...args, "--data-dir", dataDir])).trim();
}

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess(dataDir, randomPort());
}, 60_000);
afterAll(() => killHard(server.child));

const get = (path: string, headers: Record<string, string>) =>
  fetch(`${server.url}${path}`, { headers }).then((r) => r.status);
const rank = (headers: Record<string, string>) =>
  fetch(`${server.url}/v1/rank`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ userId: "u", candidates: [{ id: "a" }] }),
  }).then((r) => r.status);

/**
 * A real server process and the real CLI on one data dir: keys printed at first start work with their
 * scopes, and keys created, rotated and revoked by the CLI take effect on the running server at once.
 */
describe("loopwise keys against a running server", () => {
  it("prints the first-start keys once, in a box, and they work with their scopes", async () => {
    const out = server.output();
    expect(out).toContain("Loopwise generated API keys");
    const client = /client \(scope client\): (lw_client_\S+)/.exec(out)?.[1] as string;
    expect(client).toBeDefined();
    expect(out).toContain(`admin (scope admin): ${server.adminKey}`);
    expect(readFileSync(join(dataDir, "keys.db")).includes(Buffer.from(client))).toBe(false);
    // The first-start client key, sent the way Personalizer's SDKs send theirs.
    expect(await rank({ "Ocp-Apim-Subscription-Key": client })).toBe(200);
    expect(await get("/v1/overview", { "Ocp-Apim-Subscription-Key": client })).toBe(403);
    expect(await get("/v1/overview", {})).toBe(401);
  });

  it("create, rotate and revoke take effect on the running server without a restart", async () => {
    const read = await keysProcess("create", "--scope", "read", "--name", "dashboard");
    expect(read).toMatch(/^lw_read_/);
    expect(await get("/v1/overview", { authorization: `Bearer ${read}` })).toBe(200);
    expect(await rank({ authorization: `Bearer ${read}` })).toBe(403);
    expect(await keys("list")).toMatch(/dashboard\s+read/);

    const rotated = await keys("rotate", "dashboard");
    expect(await get("/v1/overview", { "x-api-key": read })).toBe(401);
    expect(await get("/v1/overview", { "x-api-key": rotated })).toBe(200);

    await keys("revoke", "dashboard");
    expect(await get("/v1/overview", { "x-api-key": rotated })).toBe(401);
    expect(await keys("list", "--format", "json")).not.toContain("dashboard");
  });

  it("rotating the install's admin key rewrites data/admin-key and retires the old key at once", async () => {
    const admin = await keys("rotate", "admin");
    expect(readFileSync(join(dataDir, "admin-key"), "utf8").trim()).toBe(admin);
    expect(await get("/v1/rollouts", { authorization: `Bearer ${server.adminKey}` })).toBe(401);
    expect(await get("/v1/rollouts", { authorization: `Bearer ${admin}` })).toBe(200);
  });
});
