import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Where a worker thread's entry module is, next to the module starting it: `./x-worker.ts` when the
 * caller runs from source (vitest, `node --import tsx`), `./x-worker.js` when it runs compiled (dist/).
 * Pass the caller's `import.meta.url` and the entry's path without extension.
 */
export function workerUrl(callerUrl: string, entry: string): URL {
  const fromSource = new URL(callerUrl).pathname.endsWith(".ts");
  return new URL(`${entry}${fromSource ? ".ts" : ".js"}`, callerUrl);
}

/**
 * Starts a worker on `workerUrl(callerUrl, entry)`. Compiled, the entry runs as plain JavaScript. From
 * source, a tiny bootstrap registers tsx in the worker first and then imports the entry: Node 20 has no
 * type stripping and does not apply `--import tsx` given in a worker's execArgv.
 */
export function startWorker(callerUrl: string, entry: string, options: WorkerOptions = {}): Worker {
  const url = workerUrl(callerUrl, entry);
  if (!url.pathname.endsWith(".ts")) return new Worker(url, options);
  const tsxApi = tsxEsmApi(callerUrl);
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** tsx's ESM register API (its CommonJS build cannot register the ESM hooks), from its package exports. */
function tsxEsmApi(callerUrl: string): string {
  const manifest = createRequire(callerUrl).resolve("tsx/package.json");
  const exports = JSON.parse(readFileSync(manifest, "utf8")).exports as Record<string, { import: { default: string } }>;
  const entry = exports["./esm/api"]?.import.default;
  if (!entry) throw new Error("tsx does not export ./esm/api: cannot start a worker from TypeScript source");
  return new URL(entry, pathToFileURL(manifest)).href;
}
