import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Command } from "commander";
import { describe, expect, it, vi } from "vitest";
import { openApiKeys } from "../../app/api-keys.js";
import { PostgresApiKeyStore } from "../../storage/postgres/api-key-store-postgres.js";
import { PostgresAuditLog } from "../../storage/postgres/dashboard-store-postgres.js";
import { POSTGRES_TEST_URL, postgresAvailable, testSchemas } from "../../storage/postgres/test-database.js";
import { SqliteAuditLog } from "../../storage/sqlite/dashboard-store-sqlite.js";
import { migrate } from "../../storage/sqlite/migrations.js";
import { register } from "./keys.js";

const schemas = testSchemas();

/** Runs `loopwise keys ...` in-process on a data dir; returns what it printed on stdout and stderr. */
async function cli(dataDir: string, ...args: string[]): Promise<{ out: string; err: string }> {
  const program = new Command("loopwise").exitOverride();
  register(program);
  let out = "";
  let err = "";
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => {
    out += String(c);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => {
    err += String(c);
    return true;
  });
  try {
    await program.parseAsync(["node", "loopwise", "keys", ...args, "--data-dir", dataDir]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return { out, err };
}

describe("loopwise keys", () => {
  it("prints a new secret alone on stdout, once, and lists keys without secrets", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-keys-cli-"));
    const created = await cli(dir, "create", "--scope", "client", "--name", "shop");
    const secret = created.out.trim();
    expect(secret).toMatch(/^lw_client_\S+$/);
    expect(created.err).toContain('created key "shop" (scope client)');
    const keys = openApiKeys(dir);
    expect(keys.lookup(secret)).toEqual({ name: "shop", scope: "client" });
    const listed = await cli(dir, "list", "--format", "json");
    expect(JSON.parse(listed.out)).toEqual([
      { name: "shop", scope: "client", createdAt: expect.any(String), rotatedAt: null },
    ]);
    expect(listed.out).not.toContain(secret);
    const rotated = (await cli(dir, "rotate", "shop")).out.trim();
    expect(keys.lookup(secret)).toBeUndefined();
    expect(keys.lookup(rotated)).toEqual({ name: "shop", scope: "client" });
    expect((await cli(dir, "list")).out).toMatch(/^shop\s+client\s+\S+\s+\d{4}-/m);
    await cli(dir, "revoke", "shop");
    expect(keys.lookup(rotated)).toBeUndefined();
    await keys.close();
  });

  it("refuses a bad scope or name, a taken name and an unknown key, naming the problem", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-keys-cli-"));
    await expect(cli(dir, "create", "--scope", "root", "--name", "x")).rejects.toThrow(/--scope.*client, read, admin/);
    await expect(cli(dir, "create", "--scope", "read", "--name", "a b")).rejects.toThrow(/--name/);
    await cli(dir, "create", "--scope", "read", "--name", "grafana");
    await expect(cli(dir, "create", "--scope", "read", "--name", "grafana")).rejects.toThrow(/exists/);
    await expect(cli(dir, "rotate", "nobody")).rejects.toThrow(/no key named "nobody"/);
    await expect(cli(dir, "revoke", "nobody")).rejects.toThrow(/no key named "nobody"/);
  });

  it("keeps <dataDir>/admin-key in step with the admin key: rotated with it, deleted when revoked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-keys-cli-"));
    const keys = openApiKeys(dir);
    await keys.put("admin", "admin", "install-admin-key-0123456789");
    writeFileSync(join(dir, "admin-key"), "install-admin-key-0123456789\n");
    const rotated = (await cli(dir, "rotate", "admin")).out.trim();
    expect(readFileSync(join(dir, "admin-key"), "utf8").trim()).toBe(rotated);
    await cli(dir, "revoke", "admin");
    expect(() => readFileSync(join(dir, "admin-key"))).toThrow(/ENOENT/);
    await keys.close();
  });

  it("writes key changes to the audit timeline of the data dir's log database, never creating one", async () => {
    const bare = mkdtempSync(join(tmpdir(), "loopwise-keys-cli-"));
    await cli(bare, "create", "--scope", "read", "--name", "early");
    expect(existsSync(join(bare, "loopwise.db"))).toBe(false);
    const dir = mkdtempSync(join(tmpdir(), "loopwise-keys-cli-"));
    const db = new Database(join(dir, "loopwise.db"));
    migrate(db); // as a server's first start leaves it
    const secret = (await cli(dir, "create", "--scope", "read", "--name", "grafana")).out.trim();
    await cli(dir, "rotate", "grafana");
    await cli(dir, "revoke", "grafana");
    const entries = await new SqliteAuditLog(db).list({ limit: 10, ascending: true });
    const cliUser = { name: `cli:${userInfo().username}`, scope: "cli" };
    expect(entries.map((e) => [e.action, e.target, e.actor])).toEqual([
      ["key.create", { kind: "key", id: "grafana" }, cliUser],
      ["key.rotate", { kind: "key", id: "grafana" }, cliUser],
      ["key.revoke", { kind: "key", id: "grafana" }, cliUser],
    ]);
    expect(JSON.stringify(entries)).not.toContain(secret);
    db.close();
  });
});

describe.skipIf(!postgresAvailable("loopwise keys"))("loopwise keys on PostgreSQL (storage.postgresUrl)", () => {
  it("creates, rotates and revokes the deployment's keys in PostgreSQL, with the audit entry there", async () => {
    const schema = schemas.name();
    const env = { LOOPWISE_POSTGRES_URL: POSTGRES_TEST_URL, LOOPWISE_POSTGRES_SCHEMA: schema };
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const dir = mkdtempSync(join(tmpdir(), "loopwise-keys-cli-"));
    try {
      const secret = (await cli(dir, "create", "--scope", "read", "--name", "grafana")).out.trim();
      const node = await PostgresApiKeyStore.open({ url: POSTGRES_TEST_URL as string, schema });
      expect(node.lookup(secret)).toEqual({ name: "grafana", scope: "read" });
      await cli(dir, "revoke", "grafana");
      await node.refresh(); // what the node's 5 s timer does
      expect(node.lookup(secret)).toBeUndefined();
      await node.close();
      expect(existsSync(join(dir, "keys.db"))).toBe(false);
      const store = await schemas.open(schema);
      const audit = await new PostgresAuditLog(store).list({ limit: 10, ascending: true });
      expect(audit.map((e) => e.action)).toEqual(["key.create", "key.revoke"]);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
