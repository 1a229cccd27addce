import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { LoopwiseConfig } from "../../app/config.js";
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
 * `loopwise keys list|create|rotate|revoke`: the API keys of a data dir (`<dataDir>/keys.db`), or of the
 * PostgreSQL deployment when `storage.postgresUrl` is set. Works while servers run: a server on the same data
 * dir sees a change on its next request; PostgreSQL nodes within 5 s (their key cache). A new secret is
 * printed once, alone on stdout (so `KEY=$(loopwise keys create ...)` works), with a note on stderr.
 */
export function register(program: Command): void {
  const keys = program
    .command("keys")
    .description(`list, create, rotate and revoke API keys (scopes: ${SCOPES.join(", ")})`);
  withDataDir(keys.command("list").description("the keys: name, scope, created, rotated (never the secrets)"))
    .option("--format <format>", "table | json", "table")
    .action((opts: KeysOptions & { format: string }) =>
      withKeys(opts, async (store) => {
        const rows = (await store.list()).map(view);
        out(opts.format === "json" ? JSON.stringify(rows, null, 2) : table(rows));
      }),
    );
  withDataDir(keys.command("create").description("create a key and print its secret once"))
    .requiredOption("--scope <scope>", `one of ${SCOPES.join(", ")}`)
    .requiredOption("--name <name>", "a unique name (letters, digits, _ . -)")
    .action((opts: KeysOptions & { scope: string; name: string }) =>
      withKeys(opts, async (store, { config }) => {
        const { keyNameSchema, scopeSchema } = await import("../../core/api-key.js");
        const scope = parse(scopeSchema, opts.scope, "--scope") as Scope;
        const name = parse(keyNameSchema, opts.name, "--name");
        const value = await store.create(name, scope);
        await recordKeyChange(config, "create", name, `created key "${name}" (scope ${scope})`);
        secret(name, scope, value, "created");
      }),
    );
  withDataDir(
    keys.command("rotate").description("give a key a new secret (same name and scope); the old one stops working"),
  )
    .argument("<name>", "key name")
    .action((name: string, opts: KeysOptions) =>
      withKeys(opts, async (store, { dataDir, config }) => {
        const value = await store.rotate(name);
        const scope = (await store.list()).find((k) => k.name === name)?.scope ?? "admin";
        // The install's own admin key file follows its key, so the README's `cat data/admin-key` stays true.
        const file = join(dataDir, ADMIN_KEY_FILE);
        if (name === "admin" && existsSync(file)) writeFileSync(file, `${value}\n`, { mode: 0o600 });
        await recordKeyChange(config, "rotate", name, `rotated key "${name}" (scope ${scope})`);
        secret(name, scope, value, "rotated");
      }),
    );
  withDataDir(keys.command("revoke").description("delete a key; requests with it are refused at once"))
    .argument("<name>", "key name")
    .action((name: string, opts: KeysOptions) =>
      withKeys(opts, async (store, { dataDir, config }) => {
        await store.revoke(name);
        await recordKeyChange(config, "revoke", name, `revoked key "${name}"`);
        // Else the next start would install the file's key again; it generates a new admin key instead.
        if (name === "admin") rmSync(join(dataDir, ADMIN_KEY_FILE), { force: true });
        process.stderr.write(`revoked key "${name}"\n`);
      }),
    );
}

/**
 * Writes a key change to the install's audit timeline (GET /v1/audit) as done by the CLI's OS user; never
 * the secret. With PostgreSQL, into its `admin_audit`; else the data dir's SQLite log, skipped before a
 * server has created it.
 */
async function recordKeyChange(config: LoopwiseConfig, action: string, name: string, summary: string): Promise<void> {
  const { userInfo } = await import("node:os");
  const entry = {
    at: Date.now(),
    actor: { name: `cli:${userInfo().username}`, scope: "cli" as const },
    action: `key.${action}`,
    target: { kind: "key" as const, id: name },
    summary,
  };
  const { postgresUrl, postgresSchema } = config.storage;
  if (postgresUrl) {
    const { PostgresStore } = await import("../../storage/postgres/postgres-store.js");
    const { PostgresAuditLog } = await import("../../storage/postgres/dashboard-store-postgres.js");
    const store = await PostgresStore.open({ url: postgresUrl, schema: postgresSchema, max: 1 });
    try {
      await new PostgresAuditLog(store).append(entry);
    } finally {
      await store.close();
    }
    return;
  }
  const { appendAuditInDataDir } = await import("../../storage/sqlite/dashboard-store-sqlite.js");
  await appendAuditInDataDir(config.dataDir, entry);
}

/** Loaded when a command runs, not for `--help` (src/cli/index.ts: heavy modules load lazily). */
async function withKeys(
  opts: KeysOptions,
  fn: (store: ApiKeys, install: { dataDir: string; config: LoopwiseConfig }) => void | Promise<void>,
): Promise<void> {
  const { openConfiguredApiKeys } = await import("../../app/api-keys.js");
  const config = await loadCliConfig(opts);
  const store = await openConfiguredApiKeys(config);
  try {
    await fn(store, { dataDir: config.dataDir, config });
  } finally {
    await store.close();
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
