import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashSecret } from "../../core/api-key.js";
import { apiKeysContract } from "../api-keys.contract.js";
import { KEYS_FILE, SqliteApiKeyStore } from "./api-key-store.js";

const dir = () => mkdtempSync(join(tmpdir(), "loopwise-keys-"));

apiKeysContract("sqlite", async () => {
  const data = dir();
  const a = SqliteApiKeyStore.open(data);
  const b = SqliteApiKeyStore.open(data);
  return {
    a,
    b,
    sync: async () => {}, // each connection re-reads when SQLite's data_version moves
    close: async () => {
      await a.close();
      await b.close();
    },
  };
});

describe("SqliteApiKeyStore", () => {
  it("keeps no plaintext at rest: only SHA-256 hashes, in a file only its owner reads", async () => {
    const data = dir();
    const keys = SqliteApiKeyStore.open(data);
    const secrets = [await keys.create("a", "client"), await keys.create("b", "read"), await keys.rotate("a")];
    await keys.put("admin", "admin", "configured-admin-key-0123456789");
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
    await keys.close();
  });
});
