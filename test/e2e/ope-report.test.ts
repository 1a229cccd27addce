import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { evaluateLog } from "../../src/ope/evaluate-log.js";
import type { LoggedRound } from "../../src/ope/logged-round.js";
import { renderHtmlReport } from "../../src/ope/report-html.js";
import { simulateDecisions } from "../../src/ope/simulate-decisions.js";
import { loggingTarget, type TargetPolicy, uniformTarget } from "../../src/ope/targets.js";
import { CHROMIUM_ARGS, chromiumPath, haveChromium } from "./chromium.js";

/**
 * The HTML report renders offline: write it, open it in headless Chromium with every network request
 * refused, count the SVG marks of each chart, and keep a screenshot under a temp dir.
 */
const executablePath = chromiumPath;
if (!haveChromium)
  console.log(`skipping the OPE report browser test: no chromium at ${executablePath} (set LOOPWISE_CHROMIUM)`);

async function report(): Promise<string> {
  const sim = simulateDecisions({ decisions: 2000, candidates: 4, slots: 2, seed: 3 });
  const clicked = new Set(sim.rewards.map((r) => `${r.decisionId}/${r.itemId}`));
  const rounds: LoggedRound[] = sim.decisions.flatMap((d) =>
    d.slots.map((s, k) => ({
      context: { ...d.features, ...d.context },
      candidates: d.candidates,
      position: s.position,
      action: s.index,
      propensity: s.propensity,
      probabilities: s.probabilities,
      placedBefore: d.slots.slice(0, k).map((p) => p.index),
      reward: clicked.has(`${d.decisionId}/${s.itemId}`) ? 1 : 0,
    })),
  );
  const greedy: TargetPolicy = {
    name: "segment-greedy",
    kind: "policy",
    distribution: (r) => {
      const best = r.context.segment === "a" ? 0 : r.candidates.length - 1;
      const pick = r.placedBefore.includes(best) ? r.candidates.findIndex((_, j) => !r.placedBefore.includes(j)) : best;
      return r.candidates.map((_, j) => (j === pick ? 1 : 0));
    },
  };
  const result = await evaluateLog(
    { source: "simulated", rounds, skipped: { pending: 0 }, notes: ["simulated uniform log"] },
    [loggingTarget(), uniformTarget(), greedy],
    { estimators: ["ips", "snips", "dm", "dr", "sndr", "switch-dr"], rewardModel: "tabular", bootstrap: 200, seed: 1 },
  );
  return renderHtmlReport(result);
}

describe.skipIf(!haveChromium)("OPE HTML report in headless Chromium", () => {
  it("renders every chart with marks, offline, and saves a screenshot", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-ope-report-"));
    const file = join(dir, "report.html");
    writeFileSync(file, await report());
    // A fresh profile dir per run (TOOLCHAIN.md); playwright takes it as launchPersistentContext's argument.
    const context = await chromium.launchPersistentContext(join(dir, "profile"), {
      executablePath,
      headless: true,
      viewport: { width: 1000, height: 800 },
      args: CHROMIUM_ARGS,
    });
    try {
      const page = await context.newPage();
      const external: string[] = [];
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("file:")) return route.continue();
        external.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(file).href);
      const charts = await page.evaluate(() =>
        [...document.querySelectorAll("svg.chart")].map((svg) => ({
          kind: svg.getAttribute("class") ?? "",
          marks: svg.querySelectorAll("rect.bar, rect.ci-bar, circle.mark").length,
          width: svg.getBoundingClientRect().width,
        })),
      );
      const sections = await page.locator("section.target").count();
      const shot = join(dir, "ope-report.png");
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`OPE report screenshot: ${shot} (${charts.length} charts)`);

      expect(external).toEqual([]);
      expect(sections).toBe(3);
      // One comparison chart, then per target an estimates chart and a weight histogram.
      expect(charts.length).toBe(1 + 2 * 3);
      for (const c of charts) {
        expect(c.marks).toBeGreaterThan(0);
        expect(c.width).toBeGreaterThan(100);
      }
      expect(charts.filter((c) => c.kind.includes("chart-weights")).length).toBe(3);
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await context.close();
    }
  });
});
