import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApiKeys } from "../../src/app/api-keys.js";
import { createEngine, type Engine } from "../../src/app/engine.js";
import { buildServer } from "../../src/server/server.js";
import { CHROMIUM_ARGS, chromiumPath, haveChromium } from "./chromium.js";

/**
 * The dashboard against a real server on a random loopback port: traffic goes through the public API,
 * then headless Chromium opens the page (every request off this origin refused) and the panels must show
 * exactly the numbers the API answered. Screenshots at 1280×800 and at phone width go under a temp dir.
 */
const executablePath = chromiumPath;
if (!haveChromium)
  console.log(`skipping the dashboard browser test: no chromium at ${executablePath} (set LOOPWISE_CHROMIUM)`);

const ADMIN_KEY = "dashboard-test-admin-key-0123";
const dir = mkdtempSync(join(tmpdir(), "loopwise-dashboard-"));

let engine: Engine;
let app: Awaited<ReturnType<typeof buildServer>>;
let base: string;
/** A key of scope read: sees every panel, no controls. */
let readKey: string;

async function api<T = Record<string, unknown>>(path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      authorization: `Bearer ${ADMIN_KEY}`,
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** What the API answered while the traffic ran: the numbers the page must show. */
const sent = {
  decisions: [] as string[],
  byPolicy: new Map<string, number>(),
  byArm: new Map<string, number>(),
  /** Decisions that got one counted reward of value 1 (a click on slot 0, or an explicit reward). */
  rewardedByPolicy: new Map<string, number>(),
};
const rewarded = (policy: string) => sent.rewardedByPolicy.set(policy, (sent.rewardedByPolicy.get(policy) ?? 0) + 1);
let eventsAccepted = 0;
let views = 0;
let rewardsAccepted = 0;
let rolloutId = "";

async function rank(userId: string, extra: Record<string, unknown> = {}) {
  const r = await api<{
    decisionId: string;
    policy: { id: string };
    ranking: { id: string }[];
    rollout?: { arm: string };
  }>("/v1/rank", { userId, sessionId: `s-${userId}`, slots: 3, ...extra });
  sent.decisions.push(r.decisionId);
  sent.byPolicy.set(r.policy.id, (sent.byPolicy.get(r.policy.id) ?? 0) + 1);
  if (r.rollout) sent.byArm.set(r.rollout.arm, (sent.byArm.get(r.rollout.arm) ?? 0) + 1);
  return r;
}

async function driveTraffic(): Promise<void> {
  const items = Array.from({ length: 12 }, (_, i) => ({
    id: `sku-${i + 1}`,
    category: i % 2 ? "shoes" : "shirts",
    price: 10 + i,
  }));
  await api("/v1/items", { items });
  const events = [];
  for (let u = 1; u <= 6; u++) {
    for (let k = 0; k < 5; k++) {
      const item = items[(u * 3 + k) % items.length] as { id: string; category: string };
      events.push({
        type: k === 4 ? "add_to_cart" : "view",
        userId: `u${u}`,
        sessionId: `s-u${u}`,
        itemId: item.id,
        category: item.category,
        eventId: `ev-${u}-${k}`,
      });
      if (k !== 4) views++;
    }
  }
  eventsAccepted += (await api<{ accepted: number }>("/v1/events", { events })).accepted;
  await api("/v1/models/train", {});
  const rollout = await api<{ id: string }>("/v1/rollouts", {
    candidate: "uniform",
    incumbent: "default",
    minHold: "6h",
    opeGate: false,
  });
  rolloutId = rollout.id;
  await engine.tick(); // the rollout enters its first stage
  for (let i = 0; i < 18; i++) {
    const r = await rank(`u${(i % 6) + 1}`);
    const first = r.ranking[0]?.id;
    if (i % 3 === 0 && first) {
      const click = {
        type: "click",
        userId: `u${(i % 6) + 1}`,
        itemId: first,
        decisionId: r.decisionId,
        eventId: `click-${i}`,
      };
      const res = await api<{ accepted: number; rewardsJoined: number }>("/v1/events", { events: [click] });
      eventsAccepted += res.accepted;
      rewardsAccepted += res.rewardsJoined;
      if (res.rewardsJoined === 1) rewarded(r.policy.id);
    }
  }
  const candidates = items.slice(0, 4).map((i) => ({ id: i.id }));
  for (let i = 0; i < 5; i++) {
    const r = await rank(`guest-${i}`, { candidates, policyId: "uniform" });
    if (i < 2) {
      const res = await api<{ status: string }>(`/v1/decisions/${r.decisionId}/reward`, {
        value: 1,
        rewardId: `rw-${i}`,
      });
      if (res.status === "accepted") {
        rewardsAccepted++;
        rewarded(r.policy.id);
      }
    }
  }
}

beforeAll(async () => {
  engine = await createEngine({ dataDir: ":memory:", config: { logLevel: "silent", adminKey: ADMIN_KEY } });
  const keys = openApiKeys(":memory:");
  readKey = await keys.create("dashboard", "read");
  app = await buildServer(engine, { keys });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
  await driveTraffic();
});

afterAll(async () => {
  await app?.close();
  await engine?.close();
});

async function launch(): Promise<BrowserContext> {
  // A fresh profile dir per launch (TOOLCHAIN.md); playwright takes it as launchPersistentContext's argument.
  return chromium.launchPersistentContext(join(dir, `profile-${Math.random().toString(36).slice(2)}`), {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: CHROMIUM_ARGS,
  });
}

/**
 * Opens the dashboard, refusing anything off its origin and collecting console errors (CSP violations too),
 * and signs in with `key` (kept in sessionStorage, never in the URL) unless it is null.
 */
async function open(context: BrowserContext, problems: string[], key: string | null = ADMIN_KEY): Promise<Page> {
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base)) return route.continue();
    problems.push(`external request: ${url}`);
    return route.abort();
  });
  await page.goto(`${base}/`);
  await page.waitForSelector("#signin:not([hidden])", { timeout: 15_000 });
  if (key === null) return page;
  await signIn(page, key);
  await page.waitForSelector("body[data-loaded='true']", { timeout: 15_000 });
  return page;
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.fill("#api-key", key);
  await page.click("#key-form button[type=submit]");
}

const text = (page: Page, selector: string) => page.locator(selector).first().textContent();
const cell = (page: Page, row: string, column: number) => text(page, `${row} > :nth-child(${column})`);

describe.skipIf(!haveChromium)("dashboard in headless Chromium", () => {
  it("shows the real numbers, refreshes live, looks up a user and shows the rollout", async () => {
    const context = await launch();
    const problems: string[] = [];
    try {
      const page = await open(context, problems);
      const n = sent.decisions.length;
      expect(await text(page, "#total-decisions")).toBe(String(n));
      expect(await text(page, "#total-events")).toBe(String(eventsAccepted));
      expect(await text(page, "#total-rewards")).toBe(String(rewardsAccepted));
      for (const [policy, count] of sent.byPolicy) {
        expect(await cell(page, `#policies-table tr[data-policy='${policy}']`, 2)).toBe(String(count));
        expect(await cell(page, `#policies-table tr[data-policy='${policy}']`, 7)).toBe(String(count));
        const share = (sent.rewardedByPolicy.get(policy) ?? 0) / count;
        // The share, then its 95 % Wilson interval in percent.
        expect(await cell(page, `#policies-table tr[data-policy='${policy}']`, 3)).toMatch(
          new RegExp(`^${(share * 100).toFixed(1)} % \\[\\d+\\.\\d, \\d+\\.\\d\\]$`),
        );
        expect(await cell(page, `#policies-table tr[data-policy='${policy}']`, 4)).toBe(share.toFixed(3));
      }
      expect(await cell(page, "#events-table tr[data-type='view']", 2)).toBe(String(views));
      expect(await page.locator("#recent-table tbody tr[data-decision]").count()).toBe(n);
      expect(await page.locator("#recent-table tbody tr").first().getAttribute("data-decision")).toBe(
        sent.decisions.at(-1),
      );
      expect(await text(page, "#model-line")).toMatch(/^model: vstan /);

      // Live: more traffic appears without reloading.
      for (let i = 0; i < 4; i++) await rank(`late-${i}`);
      await page.waitForFunction(
        (expected) => document.getElementById("total-decisions")?.textContent === expected,
        String(n + 4),
        { timeout: 10_000 },
      );
      expect(await text(page, "#rate-decisions")).toMatch(/^\d+(\.\d)?$/);

      // User lookup: features and recommendations for a typed user id.
      await page.fill("#lookup-user", "u1");
      await page.click("#lookup-form button[type=submit]");
      await page.waitForSelector("#user-known", { timeout: 10_000 });
      expect(await text(page, "#user-known")).toBe("yes");
      expect(await text(page, "#user-session-items")).toContain("sku-");
      expect(await page.locator("#features-table tr[data-feature]").count()).toBeGreaterThan(0);
      expect(await page.locator("#recs-list li").count()).toBeGreaterThan(0);

      // The rollout the traffic ran under, with its per-arm counts.
      const rollout = page.locator(`[data-rollout='${rolloutId}']`);
      await rollout.waitFor({ timeout: 10_000 });
      expect(await rollout.textContent()).toContain("Stage 1%");
      for (const arm of ["incumbent", "candidate"]) {
        // The panel refreshes every 5 s: it catches up with the late ranks above.
        const shown = () => cell(page, `[data-rollout='${rolloutId}'] tr[data-arm='${arm}']`, 2).then(Number);
        await expect.poll(shown, { timeout: 10_000 }).toBeGreaterThanOrEqual(sent.byArm.get(arm) ?? 0);
      }
      expect(page.url()).not.toContain(ADMIN_KEY);

      const shot = join(dir, "dashboard-1280x800.png");
      await page.screenshot({ path: shot, fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      const phone = join(dir, "dashboard-phone.png");
      await page.screenshot({ path: phone, fullPage: true });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(dir, "dashboard-phone-top.png") });
      await page
        .locator("[aria-labelledby='rollouts-title']")
        .screenshot({ path: join(dir, "dashboard-phone-rollouts.png") });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      console.log(`dashboard screenshots: ${shot} ${phone}`);
      expect(statSync(shot).size).toBeGreaterThan(20_000);
      expect(overflow).toBeLessThanOrEqual(0); // no sideways scrolling at phone width
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it("asks again for a refused key, and shows a read key no controls", async () => {
    const context = await launch();
    const problems: string[] = [];
    try {
      const page = await open(context, problems, null);
      expect(await page.locator("#content").isHidden()).toBe(true);
      await signIn(page, "not-the-key");
      await page.waitForFunction(() => document.getElementById("signin-message")?.textContent?.includes("refused"), {
        timeout: 10_000,
      });
      expect(await page.locator("#content").isHidden()).toBe(true);
      await signIn(page, readKey);
      await page.waitForSelector("body[data-loaded='true']", { timeout: 15_000 });
      expect(await text(page, "#total-decisions")).toBe(String(sent.decisions.length));
      expect(await text(page, "#key-line")).toBe("key: dashboard (read)");
      // Rollouts are reads: a read key sees them, without the controls (admin routes).
      await page.waitForSelector(`[data-rollout='${rolloutId}']`, { timeout: 10_000 });
      expect(await page.locator("#rollout-create").isHidden()).toBe(true);
      expect(await page.locator("[data-rollout] button[data-action]").count()).toBe(0);
      // A recent decision's "look up" button looks its user up (the overview itself lists no user ids).
      const newest = sent.decisions.at(-1) as string;
      const user = (await api<{ userId: string }>(`/v1/decisions/${newest}`)).userId;
      await page.click(`#recent-table tr[data-decision='${newest}'] button[data-lookup]`);
      await page.waitForFunction((u) => document.querySelector("#user-summary dd")?.textContent === u, user, {
        timeout: 10_000,
      });
      expect(await page.inputValue("#lookup-user")).toBe(user);
      // Chromium logs the refused key's 401 and the read key's 403 on recommendations (a client route) as
      // console errors; nothing else may be.
      expect(problems.filter((p) => !/\b40[13]\b/.test(p))).toEqual([]);
    } finally {
      await context.close();
    }
  }, 30_000);
});
