import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashSecret } from "../../core/api-key.js";
import { KEYS_FILE, SqliteApiKeyStore } from "./api-key-store.js";

const dir = () => mkdtempSync(join(tmpdir(), "loopwise-keys-"));

describe("SqliteApiKeyStore", () => {
  it("creates, looks up, rotates and revokes keys by name, each with its scope", () => {
    const keys = SqliteApiKeyStore.open(":memory:");
    const client = keys.create("shop", "client", 1000);
    expect(client).toMatch(/^lw_client_[A-Za-z0-9_-]{43}$/);
    expect(keys.lookup(client)).toEqual({ name: "shop", scope: "client" });
    expect(keys.lookup(`${client}x`)).toBeUndefined();
    expect(() => keys.create("shop", "read")).toThrow(/exists/);
    const rotated = keys.rotate("shop", 2000);
    expect(rotated).not.toBe(client);
    expect(keys.lookup(client)).toBeUndefined();
    expect(keys.lookup(rotated)).toEqual({ name: "shop", scope: "client" });
    expect(keys.list()).toEqual([{ name: "shop", scope: "client", createdAt: 1000, rotatedAt: 2000 }]);
    keys.revoke("shop");
    expect(keys.lookup(rotated)).toBeUndefined();
    expect(() => keys.revoke("shop")).toThrow(/no key named/);
    expect(() => keys.rotate("nobody")).toThrow(/no key named/);
    keys.close();
  });

  it("installs a given admin secret under a name, replacing the previous one", () => {
    const keys = SqliteApiKeyStore.open(":memory:");
    keys.put("admin", "admin", "first-admin-key-0123456789");
    keys.put("admin", "admin", "second-admin-key-0123456789");
    expect(keys.lookup("first-admin-key-0123456789")).toBeUndefined();
    expect(keys.lookup("second-admin-key-0123456789")).toEqual({ name: "admin", scope: "admin" });
    expect(keys.list()).toHaveLength(1);
    keys.close();
  });

  it("accepts an ephemeral key for its own life only: not listed, not stored, not seen by others", () => {
    const data = dir();
    const server = SqliteApiKeyStore.open(data);
    server.put("admin", "admin", "stored-admin-key-0123456789");
    server.addEphemeral("engine", "admin", "engine-admin-key-0123456789");
    expect(server.lookup("engine-admin-key-0123456789")).toEqual({ name: "engine", scope: "admin" });
    expect(server.lookup("stored-admin-key-0123456789")).toEqual({ name: "admin", scope: "admin" });
    expect(server.list().map((k) => k.name)).toEqual(["admin"]);
    const other = SqliteApiKeyStore.open(data);
    expect(other.lookup("engine-admin-key-0123456789")).toBeUndefined();
    other.close();
    server.close();
  });

  it("keeps no plaintext at rest: only SHA-256 hashes, in a file only its owner reads", () => {
    const data = dir();
    const keys = SqliteApiKeyStore.open(data);
    const secrets = [keys.create("a", "client"), keys.create("b", "read"), keys.rotate("a")];
    keys.put("admin", "admin", "configured-admin-key-0123456789");
    secrets.push("configured-admin-key-0123456789");
    const files = readdirSync(data).filter((f) => f.startsWith(KEYS_FILE));
    expect(files).toContain(KEYS_FILE);
    const bytes = Buffer.concat(files.map((f) => readFileSync(join(data, f))));
    for (const secret of secrets) {
      expect(bytes.includes(Buffer.from(secret)), "secret in the key files").toBe(false);
      // The random part after the `lw_<scope>_` prefix (which can itself contain "_": base64url). 16 characters
      // of it never occur by chance in a small file; a shorter tail could, so take them from the start.
      const random = secret.replace(/^lw_[a-z]+_/, "");
      expect(random.length).toBeGreaterThanOrEqual(16);
      expect(bytes.includes(Buffer.from(random.slice(0, 16))), "part of a secret in the key files").toBe(false);
    }
    expect(bytes.includes(hashSecret(secrets[1] as string))).toBe(true);
    expect(statSync(join(data, KEYS_FILE)).mode & 0o077).toBe(0);
    keys.close();
  });

  it("sees what another connection (the CLI) changed on the next lookup", () => {
    const data = dir();
    const server = SqliteApiKeyStore.open(data);
    const cli = SqliteApiKeyStore.open(data);
    const secret = cli.create("late", "read");
    expect(server.lookup(secret)).toEqual({ name: "late", scope: "read" });
    const next = cli.rotate("late");
    expect(server.lookup(secret)).toBeUndefined();
    expect(server.lookup(next)).toEqual({ name: "late", scope: "read" });
    cli.revoke("late");
    expect(server.lookup(next)).toBeUndefined();
    cli.close();
    server.close();
  });
});
