import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openApiKeys } from "../app/api-keys.js";
import { parseConfig } from "../app/config.js";
import { authNoneWarning, prepareKeys } from "./first-start.js";

describe("keys at first start", () => {
  it("generates an admin key (file, mode 0600) and a client key (hashed only), printed once in a box", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "loopwise-first-"));
    const config = parseConfig({ dataDir });
    const keys = openApiKeys(dataDir);
    let printed = "";
    const admin = await prepareKeys(config, keys, (t) => {
      printed += t;
    });
    const file = join(dataDir, "admin-key");
    expect(readFileSync(file, "utf8").trim()).toBe(admin);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const client = /client \(scope client\): (lw_client_\S+)/.exec(printed)?.[1];
    expect(client).toBeDefined();
    expect(printed).toContain(`admin (scope admin): ${admin}`);
    expect(printed.split("\n").filter((l) => l.startsWith("╔")).length).toBe(1);
    expect(keys.lookup(admin)).toEqual({ name: "admin", scope: "admin" });
    expect(keys.lookup(client as string)).toEqual({ name: "client", scope: "client" });

    // A restart keeps both and prints nothing; a revoked client key is not generated again.
    let again = "";
    expect(await prepareKeys(config, keys, (t) => (again += t))).toBe(admin);
    expect(again).toBe("");
    expect(keys.lookup(client as string)).toEqual({ name: "client", scope: "client" });
    await keys.revoke("client");
    await prepareKeys(config, keys, (t) => (again += t));
    expect(again).toBe("");
    expect((await keys.list()).map((k) => k.name)).toEqual(["admin"]);
    await keys.close();
  });

  it("keeps an existing install's admin key file and configured keys working", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "loopwise-first-"));
    const keys = openApiKeys(dataDir);
    const configured = "configured-admin-key-0123456789";
    expect(await prepareKeys(parseConfig({ dataDir, adminKey: configured }), keys, () => {})).toBe(configured);
    expect(keys.lookup(configured)).toEqual({ name: "admin", scope: "admin" });
    await keys.close();
  });
});

describe('the warning for auth "none"', () => {
  it("is loud on a non-loopback address and absent on loopback", () => {
    expect(authNoneWarning("0.0.0.0")).toMatch(/WARNING: auth is "none" and the server listens on 0\.0\.0\.0/);
    for (const host of ["127.0.0.1", "localhost", "::1"]) expect(authNoneWarning(host)).toBeUndefined();
  });
});
