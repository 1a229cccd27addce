import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, chromiumPath, haveChromium } from "./chromium.js";
import { killHard, randomPort, type ServerProcess, startServerProcess } from "./server-process.js";

const adminKey = `lw_test_${"b".repeat(24)}`;
const dir = mkdtempSync(join(tmpdir(), "loopwise-client-browser-"));
let server: ServerProcess | undefined;

if (!haveChromium)
  console.log(`skipping the client browser test: no chromium at ${chromiumPath} (set LOOPWISE_CHROMIUM)`);

beforeAll(async () => {
  if (haveChromium)
    server = await startServerProcess(join(dir, "data"), randomPort(), { LOOPWISE_ADMIN_KEY: adminKey });
}, 60_000);
afterAll(async () => {
  if (server) await killHard(server.child);
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The client bundled for browsers (esbuild, platform "browser": a Node built-in would fail the build)
 * and run in headless Chromium against a real server: rank, reward and a tracked event.
 */
describe.skipIf(!haveChromium)("the client in a browser", () => {
  it("bundles without Node built-ins and runs the loop from a page", async () => {
    const bundle = await build({
      entryPoints: [join(import.meta.dirname, "../../src/client/index.ts")],
      bundle: true,
      write: false,
      platform: "browser",
      format: "iife",
      globalName: "Loopwise",
    });
    const code = bundle.outputFiles[0]?.text ?? "";
    expect(code).not.toMatch(/\bzod\b|fastify|better-sqlite3/);
    const context = await chromium.launchPersistentContext(join(dir, "profile"), {
      executablePath: chromiumPath,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    try {
      const page = await context.newPage();
      const url = (server as ServerProcess).url;
      await page.goto(`${url}/healthz`); // same origin as the API, so no CORS is involved
      await page.addScriptTag({ content: code });
      const result = await page.evaluate(
        async ({ baseUrl, apiKey }) => {
          // biome-ignore lint/suspicious/noExplicitAny: the bundle's global, typed in Node only
          const c = (globalThis as any).Loopwise.createClient({ baseUrl, apiKey });
          const ranked = await c.rank({ userId: "browser-user", candidates: [{ id: "a" }, { id: "b" }], slots: 1 });
          const rewarded = await c.reward(ranked.decisionId, { value: 1 });
          const tracked = c.events.track({ type: "view", userId: "browser-user", itemId: "a" });
          await c.events.flush();
          return { decisionId: ranked.decisionId, reward: rewarded.status, event: (await tracked).status };
        },
        { baseUrl: url, apiKey: adminKey },
      );
      expect(result.decisionId).toMatch(/^dec_/);
      expect(result).toMatchObject({ reward: "accepted", event: "accepted" });
    } finally {
      await context.close();
    }
  });
});
