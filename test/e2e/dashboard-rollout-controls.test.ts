import { statSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveChromium } from "./chromium.js";
import { api, confirmVia, type DemoServer, openDashboard, SHOTS, startDemoServer } from "./dashboard-harness.js";

/**
 * Rollout controls end to end (issue 16), against a real server running the demo: start a rollout from the
 * form, see it enter its first stage, advance, pause and abort it through the confirmations, and find each
 * step in the audit timeline; the API must agree after every step. Then: a read key sees no controls, and
 * at phone width every rollout number stays on screen.
 */
if (!haveChromium) console.log("skipping the dashboard rollout controls test: no chromium (set LOOPWISE_CHROMIUM)");

let server: DemoServer;
beforeAll(async () => {
  server = await startDemoServer({ browser: haveChromium });
}, 30_000);
afterAll(async () => server?.close());

/** One signed-in admin page for the whole file (opening one costs seconds on a loaded machine). */
let adminPage: Page | undefined;
const problems: string[] = [];
async function admin(): Promise<Page> {
  adminPage ??= await openDashboard(server, problems);
  return adminPage;
}

interface RolloutView {
  id: string;
  status: string;
  stage: number;
  history: { action: string }[];
  config: { guardrails: Record<string, { enabled: boolean }> };
}

const attr = (page: Page, id: string, name: string) => page.getAttribute(`[data-rollout='${id}']`, name);

describe.skipIf(!haveChromium)("dashboard rollout controls in headless Chromium, against the demo", () => {
  /** The rollout the first test starts and the second pauses and aborts. */
  let id = "";

  it("starts a rollout from the form, sees it enter its first stage, and advances it", async () => {
    const page = await admin();
    await page.click("#rollout-create summary");
    await page.selectOption("#rollout-candidate", "uniform");
    await page.selectOption("#rollout-incumbent", "default");
    await page.fill("#rollout-stages", "5, 25, 100");
    await page.fill("#rollout-hold", "6h");
    await page.fill("#guard-revenuePerSession", "");
    await page.uncheck("#rollout-gate");
    // The confirmation spells out the plan before anything is sent.
    await confirmVia(page, "#rollout-form button[type=submit]", /"uniform".*"default".*5 % → 25 % → 100 %/s);
    await page.waitForFunction(() =>
      /^Started ro/.test(document.getElementById("rollout-form-result")?.textContent ?? ""),
    );
    id = /Started (\S+) /.exec((await page.textContent("#rollout-form-result")) ?? "")?.[1] as string;
    const created = await api<RolloutView>(server.base, `/v1/rollouts/${id}`);
    expect(created.config.guardrails.revenuePerSession?.enabled).toBe(false);
    expect(created.config.guardrails.ctr?.enabled).toBe(true);
    // The engine ticks every 250 ms: without the gate the first stage starts on its own.
    await expect.poll(() => attr(page, id, "data-stage"), { timeout: 10_000 }).toBe("5");

    await confirmVia(page, `[data-rollout='${id}'] button[data-action='advance']`, /25 % of users now \(from 5 %\)/);
    await expect.poll(() => attr(page, id, "data-stage"), { timeout: 5_000 }).toBe("25");
    expect((await api<RolloutView>(server.base, `/v1/rollouts/${id}`)).stage).toBe(25);
  }, 30_000);

  it("pauses and aborts it; the audit timeline shows each step with the key's name", async () => {
    const page = await admin();
    await confirmVia(page, `[data-rollout='${id}'] button[data-action='pause']`, /stays at 25 %/);
    await expect.poll(() => attr(page, id, "data-status"), { timeout: 5_000 }).toBe("paused");
    expect((await api<RolloutView>(server.base, `/v1/rollouts/${id}`)).status).toBe("paused");
    // Keyboard: focus is back on this rollout's pause/resume place although the panel re-rendered.
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-action"))).toBe("resume");

    await confirmVia(page, `[data-rollout='${id}'] button[data-action='abort']`, /Everyone is served "default" again/);
    await expect.poll(() => attr(page, id, "data-status"), { timeout: 5_000 }).toBe("aborted");
    const ended = await api<RolloutView>(server.base, `/v1/rollouts/${id}`);
    expect(ended.status).toBe("aborted");
    expect(await page.locator(`[data-rollout='${id}'] button[data-action]`).count()).toBe(0);

    // The audit timeline shows what GET /v1/audit recorded for this rollout, newest first, with the key's name.
    const audit = await api<{ entries: { action: string; actor: { name: string } }[] }>(
      server.base,
      `/v1/audit?targetKind=rollout&targetId=${id}`,
    );
    const recorded = audit.entries.map((e) => e.action);
    expect(recorded).toEqual(
      expect.arrayContaining(["rollout.create", "rollout.advance", "rollout.pause", "rollout.abort"]),
    );
    await expect
      .poll(() =>
        page.$$eval(`#audit li[data-audit-target='rollout:${id}']`, (els) =>
          els.map((e) => e.getAttribute("data-audit-action")),
        ),
      )
      .toEqual(recorded);
    const pauseEntry = page.locator(`#audit li[data-audit-target='rollout:${id}'][data-audit-action='rollout.pause']`);
    expect(await pauseEntry.textContent()).toContain("key admin (admin)");
    await page.locator("#rollouts-panel").screenshot({ path: join(SHOTS, "rollouts-1280.png") });
    await page.locator("#audit-panel").screenshot({ path: join(SHOTS, "audit-1280.png") });
    expect(problems).toEqual([]);
  }, 30_000);

  it("shows a read key the rollouts and the audit but no controls; keeps every number on screen on a phone", async () => {
    const readerProblems: string[] = [];
    const reader = await openDashboard(server, readerProblems, server.readKey);
    await reader.waitForSelector("[data-rollout]", { timeout: 10_000 });
    await reader.waitForSelector("#audit li", { timeout: 10_000 });
    for (const el of ["#policy-controls", "#rollout-create", "#evaluation-form", "#retrain"])
      expect(await reader.locator(el).isHidden()).toBe(true);
    // The only buttons a read key sees look users up (a read).
    const buttons = await reader.$$eval("#content button", (els) =>
      els.filter((b) => b.checkVisibility() && !b.closest("#lookup-form, #recent-table")).map((b) => b.textContent),
    );
    expect(buttons).toEqual([]);
    await reader.close();
    expect(readerProblems).toEqual([]);

    const page = await admin();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForSelector("[data-rollout] tr[data-arm='candidate']", { timeout: 10_000 });
    // Every arm cell, CTR included, lies inside the phone's width: cards, not a table cut off at the edge.
    const outside = await page.$$eval("[data-rollout] tr[data-arm] > *, #policies-table td", (cells) =>
      cells.filter((c) => c.getBoundingClientRect().right > window.innerWidth + 0.5).map((c) => c.textContent),
    );
    expect(outside).toEqual([]);
    const ctr = await page.locator("[data-rollout] tr[data-arm='candidate'] > :nth-child(3)").first().textContent();
    expect(ctr).toMatch(/no data yet|\d\.\d{3} \[/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    // A table that still scrolls sideways (a chart's numbers, one column per policy) says so and takes focus.
    await page.waitForSelector("[data-chart] details", { timeout: 15_000 });
    for (const summary of await page.locator("[data-chart] details > summary").all()) await summary.click();
    const unhinted = await page.$$eval(
      ".scroll",
      (boxes) =>
        boxes
          .filter((b) => b.scrollWidth > b.clientWidth + 1)
          .filter((b) => !b.previousElementSibling?.classList.contains("scroll-hint") || b.tabIndex !== 0).length,
    );
    expect(unhinted).toBe(0);
    await page.locator("#rollouts-panel").screenshot({ path: join(SHOTS, "rollouts-phone.png") });
    const phone = join(SHOTS, "dashboard-phone-full.png");
    await page.screenshot({ path: phone, fullPage: true });
    expect(statSync(phone).size).toBeGreaterThan(20_000);
    expect(problems).toEqual([]);
  }, 30_000);
});
