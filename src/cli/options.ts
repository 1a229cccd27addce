import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { LoopwiseConfig } from "../app/config.js";
import { LoopwiseError } from "../core/errors.js";

/**
 * Options every command shares, with one wording and one default: the data dir and config file of the
 * server (so `loopwise X` run beside `loopwise serve` reads the same ./data), and, for commands that talk to a
 * running server, its URL and admin key taken from the same config. Heavy modules are imported when a
 * command runs, never when it is registered, so `loopwise --help` stays fast.
 */
export interface DataDirOptions {
  dataDir?: string;
  config?: string;
}

export interface ServerOptions extends DataDirOptions {
  url?: string;
  apiKey?: string;
}

export function withDataDir(cmd: Command): Command {
  return cmd
    .option("-d, --data-dir <dir>", "data directory (env LOOPWISE_DATA_DIR; default ./data)")
    .option("-c, --config <file>", "config file (default ./loopwise.config.json when present)");
}

export function withServer(cmd: Command): Command {
  return withDataDir(cmd)
    .option("--url <url>", "server URL (default http://localhost:PORT, PORT from the config or env; 8080)")
    .option("--api-key <key>", "admin API key (default env LOOPWISE_ADMIN_KEY, the config's, or <data-dir>/admin-key)");
}

/** The config as the server would load it: defaults, config file, environment, then these flags. */
export async function loadCliConfig(
  opts: DataDirOptions,
  flags: Record<string, unknown> = {},
): Promise<LoopwiseConfig> {
  const { loadConfig } = await import("../app/config.js");
  return loadConfig({ file: opts.config, env: process.env, flags: { ...flags, dataDir: opts.dataDir } });
}

/** The URL and admin key of the server this command talks to; the key may be absent (the server will say 401). */
export async function resolveServer(
  opts: ServerOptions,
): Promise<{ url: string; apiKey?: string; config: LoopwiseConfig }> {
  const config = await loadCliConfig(opts);
  const url = opts.url ?? `http://localhost:${config.port}`;
  const apiKey = opts.apiKey ?? config.adminKey ?? readAdminKeyFile(config.dataDir);
  return apiKey ? { url, apiKey, config } : { url, config };
}

/** The key the server generated at first start (server/start.ts writes it to <dataDir>/admin-key). */
function readAdminKeyFile(dataDir: string): string | undefined {
  const path = join(dataDir, "admin-key");
  if (!existsSync(path)) return undefined;
  const key = readFileSync(path, "utf8").trim();
  return key || undefined;
}

/** A number option, or a clear message naming the flag. */
export function parseNumberOption(flag: string, text: string): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v))
    throw new LoopwiseError("VALIDATION_FAILED", `${flag} must be a number, not "${text}"`);
  return v;
}
