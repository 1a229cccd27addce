import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoopwiseConfig } from "../app/config.js";
import type { ApiKeys, Scope } from "../core/api-key.js";
import { LoopwiseError } from "../core/errors.js";

export const ADMIN_KEY_FILE = "admin-key";

interface Generated {
  name: string;
  scope: Scope;
  secret: string;
  where: string;
}

/**
 * The keys of a server about to start. The admin key: configured (`adminKey`, LOOPWISE_ADMIN_KEY), else
 * `<dataDir>/admin-key` (mode 0600, the install's own key that the CLI and README read), else generated
 * there. Its hash is installed as the key named `admin`. When the key table is empty (a fresh install, or
 * the first start of a version with scoped keys), a client key named `client` is generated and stored
 * hashed only: its secret exists nowhere but in the message printed now. Later starts never add one, so
 * revoking every client key stays revoked.
 */
export async function prepareKeys(
  config: LoopwiseConfig,
  keys: ApiKeys,
  write: (text: string) => void,
): Promise<string> {
  const generated: Generated[] = [];
  const path = join(config.dataDir, ADMIN_KEY_FILE);
  const fresh = (await keys.list()).length === 0;
  let adminKey = config.adminKey;
  if (!adminKey && existsSync(path)) adminKey = readFileSync(path, "utf8").trim();
  if (!adminKey) {
    mkdirSync(config.dataDir, { recursive: true });
    adminKey = `lw_admin_${randomBytes(32).toString("base64url")}`;
    writeFileSync(path, `${adminKey}\n`, { mode: 0o600 });
    generated.push({ name: "admin", scope: "admin", secret: adminKey, where: `also in ${path} (mode 0600)` });
  }
  await keys.put("admin", "admin", adminKey);
  if (fresh) {
    const secret = await createUnlessRaced(keys, "client");
    if (secret) generated.push({ name: "client", scope: "client", secret, where: "stored hashed: shown only now" });
  }
  if (generated.length > 0) write(keysBox(generated));
  return adminKey;
}

/**
 * A new client key, or nothing when another node sharing the key table (PostgreSQL) created it between our
 * `list` and this `create`: that node printed its secret.
 */
async function createUnlessRaced(keys: ApiKeys, name: string): Promise<string | undefined> {
  try {
    return await keys.create(name, "client");
  } catch (error) {
    if (error instanceof LoopwiseError && error.code === "CONFLICT") return undefined;
    throw error;
  }
}

/** A boxed message people notice in a terminal, one key a line group; not a JSON log line. */
export function keysBox(generated: Generated[]): string {
  const lines = [
    "Loopwise generated API keys for this data dir:",
    "",
    ...generated.flatMap((g) => [`  ${g.name} (scope ${g.scope}): ${g.secret}`, `    ${g.where}`]),
    "",
    "Send one as `authorization: Bearer KEY`. Manage keys with `loopwise keys list|create|rotate|revoke`.",
  ];
  return box(lines);
}

/** The warning for `auth: "none"`: loud when the address is reachable from other machines. */
export function authNoneWarning(host: string): string | undefined {
  if (isLoopback(host)) return undefined;
  return box([
    'WARNING: auth is "none" and the server listens on ' + host + ".",
    "Anyone who can reach this address can read every user's data, reward any decision,",
    'change policies and start costly evaluations. Use auth "none" only on 127.0.0.1,',
    "or remove it (LOOPWISE_AUTH / config `auth`) to require API keys.",
  ]);
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function box(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length));
  const bar = "═".repeat(width + 2);
  return `\n╔${bar}╗\n${lines.map((l) => `║ ${l.padEnd(width)} ║`).join("\n")}\n╚${bar}╝\n\n`;
}
