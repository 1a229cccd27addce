import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import { openApiKeys } from "../../src/app/api-keys.js";
import { createEngine, type Engine } from "../../src/app/engine.js";
import { buildServer } from "../../src/server/server.js";
import { startDemoOnServer } from "../../src/sim/demo.js";
import { CHROMIUM_ARGS, chromiumPath } from "./chromium.js";

/**
 * What the dashboard's browser tests share (test/e2e/dashboard-*.test.ts): a real server on a loopback port
 * running the demo (simulated shoppers through the public API, the demo's own rollout), one Chromium per file,
 * a signed-in page that records console errors and refuses every request off the server's origin.
 */
export const ADMIN_KEY = "dashboard-e2e-admin-key-0123456";
/** Screenshots for people to look at (git-ignored). */
export const SHOTS = fileURLToPath(new URL("./screenshots/", import.meta.url));

export interface DemoServer {
  engine: Engine;
  base: string;
  readKey: string;
  context: BrowserContext;
  /** Stops the simulated shoppers (waits for their requests in flight); `close` still cleans up. */
  stopTraffic(): Promise<void>;
  close(): Promise<void>;
}

/** The demo server's reward window: its decisions resolve within seconds (waitForResolvedDecisions). */
const REWARD_WINDOW_MS = 4_000;

/**
 * `rate`: the demo's sessions per second (default 3). The rollout's candidate serves 10 % of them, so a test that
 * waits for both arms' metrics waits ~1 / (0.1 x rate) s per candidate session: the charts test asks for more.
 */
export async function startDemoServer(opts: { browser: boolean; rate?: number }): Promise<DemoServer> {
  mkdirSync(SHOTS, { recursive: true });
  // A short reward window: the demo's decisions resolve within seconds, so evaluations and charts have data.
  const engine = await createEngine({
    dataDir: ":memory:",
    config: { logLevel: "silent", adminKey: ADMIN_KEY, rewards: { window: REWARD_WINDOW_MS }, tickInterval: 250 },
  });
  const keys = openApiKeys(":memory:");
  const readKey = await keys.create("dash-reader", "read");
  const app = await buildServer(engine, { keys });
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  engine.start();
  const demo = await startDemoOnServer(
    { engine, url: base, adminKey: ADMIN_KEY },
    { rate: opts.rate ?? 3, trainEveryMs: 1000 },
  );
  let stopping: Promise<void> | undefined;
  const stopDemo = () => {
    stopping ??= demo();
    return stopping;
  };
  const profile = join(mkdtempSync(join(tmpdir(), "loopwise-dashboard-")), "profile");
  const context = opts.browser
    ? await chromium.launchPersistentContext(profile, {
        executablePath: chromiumPath,
        headless: true,
        viewport: { width: 1280, height: 900 },
        args: CHROMIUM_ARGS,
      })
    : (undefined as unknown as BrowserContext);
  return {
    engine,
    base,
    readKey,
    context,
    stopTraffic: stopDemo,
    async close() {
      await context?.close();
      await stopDemo();
      await app.close();
      await engine.close();
    },
  };
}

/**
 * Waits until the demo's log holds `atLeast` decisions whose reward window has closed (the ones an evaluation
 * or a warm start reads): a test that runs right after the server starts would otherwise find none.
 */
export async function waitForResolvedDecisions(server: DemoServer, atLeast: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const resolved = await server.engine.parts.decisions.count({ to: Date.now() - REWARD_WINDOW_MS - 500 });
    if (resolved >= atLeast) return;
    if (Date.now() > deadline) throw new Error(`the demo logged ${resolved} resolved decisions in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The API as an admin; throws with the problem on a non-2xx answer. */
export async function api<T = Record<string, unknown>>(
  base: string,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Opens the page signed in with `key`; console errors and off-origin requests go to `problems`. */
export async function openDashboard(server: DemoServer, problems: string[], key = ADMIN_KEY): Promise<Page> {
  const page = await server.context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(server.base) || url.startsWith("blob:")) return route.continue();
    problems.push(`external request: ${url}`);
    return route.abort();
  });
  await page.goto(`${server.base}/`);
  await page.fill("#api-key", key);
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("body[data-loaded='true']", { timeout: 15_000 });
  return page;
}

/** Clicks a control, checks the confirmation says `mentions` with focus on Cancel, and confirms. */
export async function confirmVia(page: Page, selector: string, mentions: RegExp): Promise<void> {
  await page.click(selector);
  const dialog = page.locator("dialog#confirm[open]");
  await dialog.waitFor({ timeout: 5_000 });
  expect(await dialog.textContent()).toMatch(mentions);
  // The safe choice has focus: a stray Enter cancels.
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("confirm-cancel");
  await page.click("#confirm-ok");
}
