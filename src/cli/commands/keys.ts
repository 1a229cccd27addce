import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { ApiKeys } from "../../core/api-key.js";
import { toIso } from "../../core/clock.js";
import { LoopwiseError } from "../../core/errors.js";
import { SCOPES, type Scope } from "../../core/scopes.js";
import { ADMIN_KEY_FILE } from "../../server/first-start.js";
import { loadCliConfig, withDataDir } from "../options.js";

interface KeysOptions {
  dataDir?: string;
  config?: string;
}

/**
 * `loopwise keys list|create|rotate|revoke`: the API keys of a data dir (`<dataDir>/keys.db`). Works while
 * a server runs on the same data dir: the server sees every change on its next request. A new secret is
 * printed once, alone on stdout (so `KEY=$(loopwise keys create ...)` works), with a note on stderr.
 */
export function register(program: Command): void {
  const keys = program
    .command("keys")
    .description(`list, create, rotate and revoke API keys (scopes: ${SCOPES.join(", ")})`);
  withDataDir(keys.command("list").description("the keys: name, scope, created, rotated (never the secrets)"))
    .option("--format <format>", "table | json", "table")
    .action((opts: KeysOptions & { format: string }) =>
      withKeys(opts, (store) => {
        const rows = store.list().map(view);
        out(opts.format === "json" ? JSON.stringify(rows, null, 2) : table(rows));
      }),
    );
  withDataDir(keys.command("create").description("create a key and print its secret once"))
    .requiredOption("--scope <scope>", `one of ${SCOPES.join(", ")}`)
    .requiredOption("--name <name>", "a unique name (letters, digits, _ . -)")
    .action((opts: KeysOptions & { scope: string; name: string }) =>
      withKeys(opts, async (store, dataDir) => {
        const { keyNameSchema, scopeSchema } = await import("../../core/api-key.js");
        const scope = parse(scopeSchema, opts.scope, "--scope") as Scope;
        const name = parse(keyNameSchema, opts.name, "--name");
        const value = store.create(name, scope);
        await recordKeyChange(dataDir, "create", name, `created key "${name}" (scope ${scope})`);
        secret(name, scope, value, "created");
      }),
    );
  withDataDir(
    keys.command("rotate").description("give a key a new secret (same name and scope); the old one stops working"),
  )
    .argument("<name>", "key name")
    .action((name: string, opts: KeysOptions) =>
      withKeys(opts, async (store, dataDir) => {
        const value = store.rotate(name);
        const scope = store.list().find((k) => k.name === name)?.scope ?? "admin";
        // The install's own admin key file follows its key, so the README's `cat data/admin-key` stays true.
        const file = join(dataDir, ADMIN_KEY_FILE);
        if (name === "admin" && existsSync(file)) writeFileSync(file, `${value}\n`, { mode: 0o600 });
        await recordKeyChange(dataDir, "rotate", name, `rotated key "${name}" (scope ${scope})`);
        secret(name, scope, value, "rotated");
      }),
    );
  withDataDir(keys.command("revoke").description("delete a key; requests with it are refused at once"))
    .argument("<name>", "key name")
    .action((name: string, opts: KeysOptions) =>
      withKeys(opts, async (store, dataDir) => {
        store.revoke(name);
        await recordKeyChange(dataDir, "revoke", name, `revoked key "${name}"`);
        // Else the next start would install the file's key again; it generates a new admin key instead.
        if (name === "admin") rmSync(join(dataDir, ADMIN_KEY_FILE), { force: true });
        process.stderr.write(`revoked key "${name}"\n`);
      }),
    );
}

/**
 * Writes a key change to the data dir's audit timeline (GET /v1/audit) as done by the CLI's OS user; never
 * the secret. Skipped before a server has created the log database.
 */
async function recordKeyChange(dataDir: string, action: string, name: string, summary: string): Promise<void> {
  const { appendAuditInDataDir } = await import("../../storage/sqlite/dashboard-store-sqlite.js");
  const { userInfo } = await import("node:os");
  await appendAuditInDataDir(dataDir, {
    at: Date.now(),
    actor: { name: `cli:${userInfo().username}`, scope: "cli" },
    action: `key.${action}`,
    target: { kind: "key", id: name },
    summary,
  });
}

/** Loaded when a command runs, not for `--help` (src/cli/index.ts: heavy modules load lazily). */
async function withKeys(
  opts: KeysOptions,
  fn: (store: ApiKeys, dataDir: string) => void | Promise<void>,
): Promise<void> {
  const { openApiKeys } = await import("../../app/api-keys.js");
  const config = await loadCliConfig(opts);
  const store = openApiKeys(config.dataDir);
  try {
    await fn(store, config.dataDir);
  } finally {
    store.close();
  }
}

function parse<T>(
  schema: { safeParse: (v: unknown) => { success: boolean; data?: T } },
  value: string,
  flag: string,
): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const expected = flag === "--scope" ? SCOPES.join(", ") : "1-64 characters of letters, digits, _ . -";
    throw new LoopwiseError("VALIDATION_FAILED", `${flag}: "${value}" is not valid; expected ${expected}`);
  }
  return result.data as T;
}

function secret(name: string, scope: Scope, value: string, what: string): void {
  process.stderr.write(`${what} key "${name}" (scope ${scope}); its secret is shown only now:\n`);
  out(value);
}

function view(k: { name: string; scope: Scope; createdAt: number; rotatedAt: number | null }) {
  return {
    name: k.name,
    scope: k.scope,
    createdAt: toIso(k.createdAt),
    rotatedAt: k.rotatedAt === null ? null : toIso(k.rotatedAt),
  };
}

function table(rows: ReturnType<typeof view>[]): string {
  if (rows.length === 0) return "no keys (a server creates admin and client keys at its first start)";
  const lines = [
    ["name", "scope", "created", "rotated"],
    ...rows.map((r) => [r.name, r.scope, r.createdAt, r.rotatedAt ?? "-"]),
  ];
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? "").length))) ?? [];
  return lines
    .map((l) =>
      l
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const out = (text: string) => process.stdout.write(`${text}\n`);
