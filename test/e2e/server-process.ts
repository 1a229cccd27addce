import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { entryArgs } from "./entry.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** `loopwise ARGS` as a process (compiled or from the sources: entry.ts). Resolves with stdout. */
export async function runCli(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [...entryArgs("cli/index"), ...args], {
    cwd: root,
  });
  return stdout;
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** The install's admin key (`<dataDir>/admin-key`, generated at first start), or the configured one. */
  adminKey: string;
  output: () => string;
}

/**
 * Server processes still running. A test that times out leaves its `finally` unrun when vitest ends the worker,
 * and a spawned server would outlive the suite (found as an orphan still serving after a loaded run): the
 * worker's exit kills whatever is left.
 */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Kills `child` when this test process exits, if it still runs then. */
export function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
}

/**
 * The environment a test's server process starts from: this process's, without Loopwise's own settings
 * (LOOPWISE_*, PORT), so only what the test passes configures the server. A setting left in this process by
 * another test file (they share a process: vitest.config.ts) once gave a server a configured admin key and no
 * admin-key file to read.
 */
export function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^LOOPWISE_(?!TEST_)/.test(name) || name === "PORT") continue;
    env[name] = value;
  }
  return env;
}

/** Starts `npm start`'s entry as a real process (for crash and CLI tests) and waits until it is healthy. */
export async function startServerProcess(
  dataDir: string,
  port: number,
  extraEnv: Record<string, string> = {},
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [...entryArgs("main"), "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir],
    {
      cwd: root,
      // No warm-up (server/warm-up.ts: a second engine's start, 1-3 s) unless a test asks: crash-recovery.test.ts does.
      env: { ...serverEnv(), LOOPWISE_LOG_LEVEL: "warn", LOOPWISE_WARM_UP_RANKS: "0", ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  killOnExit(child);
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${out}`);
    const healthy = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false, // not listening yet
    );
    if (healthy) {
      const adminKey = extraEnv.LOOPWISE_ADMIN_KEY ?? readFileSync(join(dataDir, "admin-key"), "utf8").trim();
      return { url, child, adminKey, output: () => out };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`server did not become healthy in 30 s:\n${out}`);
}

export function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

export async function postJson(
  url: string,
  body: unknown,
  key: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A logged decision as `GET /v1/decisions/{id}` answers it (with a read or admin key). */
// biome-ignore lint/suspicious/noExplicitAny: tests read the record's fields as the API documents them
export async function getDecision(serverUrl: string, key: string, id: string): Promise<any> {
  const res = await fetch(`${serverUrl}/v1/decisions/${encodeURIComponent(id)}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return res.json();
}

/** Resolves when the process has exited (at once if it already has). */
export function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function killHard(child: ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  await waitExit(child);
}
