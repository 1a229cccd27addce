import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveChromium } from "./chromium.js";
import { api, type DemoServer, openDashboard, SHOTS, startDemoServer } from "./dashboard-harness.js";

/**
 * The charts (issue 16) against a real server running the demo: every number each uPlot chart draws (value,
 * interval bounds, time axis) and every marker must equal what GET /v1/timeseries answers for the same
 * window, for every policy and for the demo rollout's two arms and the lift between them. The shoppers stop
 * before the comparison so both reads see the same counts. Screenshots at desktop and phone width.
 */
if (!haveChromium) console.log("skipping the dashboard charts test: no chromium (set LOOPWISE_CHROMIUM)");

let server: DemoServer;
beforeAll(async () => {
  // Both rollout arms need resolved decisions before the charts are read: traffic enough for the 10 % arm.
  server = await startDemoServer({ browser: haveChromium, rate: 10 });
}, 30_000);
afterAll(async () => server?.close());

interface Point {
  t: string;
  value: number | null;
  interval: [number, number] | null;
}
interface Answer {
  series: { name: string; policy: string; points: Point[] }[];
  lift: { points: Point[] } | null;
  markers: unknown[];
}

/** What uPlot was given: [xs, then per series: values, upper bounds, lower bounds]. */
function expectedData(lines: Point[][]): (number | null)[][] {
  const first = lines[0] ?? [];
  const data: (number | null)[][] = [first.map((p) => Date.parse(p.t) / 1000)];
  for (const points of lines) {
    data.push(points.map((p) => p.value));
    data.push(points.map((p) => p.interval?.[1] ?? null));
    data.push(points.map((p) => p.interval?.[0] ?? null));
  }
  return data;
}

interface Drawn {
  id: string;
  query: string;
  labels: string[];
  data: (number | null)[][];
  markers: number;
}

/** Every chart on the page: its query, series labels, the arrays uPlot draws and its listed markers. */
const drawn = (page: Page): Promise<Drawn[]> =>
  page.$$eval("[data-chart]", (boxes) =>
    boxes.map((b) => {
      const box = b as HTMLElement & { chartData: (number | null)[][]; chartLabels: string[] };
      return {
        id: box.dataset.chart as string,
        query: box.dataset.query as string,
        labels: box.chartLabels,
        data: box.chartData,
        markers: box.querySelectorAll(".marker-list li").length,
      };
    }),
  );

/** Redraws the charts of `subject` now and waits for the redraw. */
async function redraw(page: Page, subject: string): Promise<void> {
  const before = await page.getAttribute("body", "data-charts-rendered");
  await page.selectOption("#results-subject", subject);
  await page.waitForFunction((n) => document.body.dataset.chartsRendered !== n, before, { timeout: 10_000 });
}

describe.skipIf(!haveChromium)("dashboard charts in headless Chromium, against the demo", () => {
  it("draws for every policy and for each rollout arm and the lift exactly what the API answers", async () => {
    const { rollouts } = await api<{ rollouts: { id: string }[] }>(server.base, "/v1/rollouts");
    const rolloutId = rollouts[0]?.id as string;
    // Wait until the demo's rollout has decisions on both arms, then stop the shoppers: both reads agree.
    await expect
      .poll(
        async () => {
          const a = await api<Answer>(server.base, `/v1/timeseries?rollout=${rolloutId}&metric=ctr&step=minute`);
          return a.series.every((s) => s.points.some((p) => p.value !== null));
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe(true);
    await server.stopTraffic();

    const problems: string[] = [];
    const page = await openDashboard(server, problems);
    await page.waitForSelector("body[data-charts-rendered]", { timeout: 15_000 });
    await redraw(page, "policies");
    const policyCharts = await drawn(page);
    expect(policyCharts.map((c) => c.id)).toEqual(["ctr", "conversion", "revenuePerSession"]);
    for (const chart of policyCharts) {
      const answers = await Promise.all(
        chart.labels.map((p) => api<Answer>(server.base, `/v1/timeseries?policy=${p}&${chart.query}`)),
      );
      expect(chart.labels.length).toBeGreaterThan(1);
      expect(chart.data).toEqual(expectedData(answers.map((a) => a.series[0]?.points ?? [])));
      expect(chart.markers).toBe(answers.reduce((n, a) => n + a.markers.length, 0));
    }
    // Not all zero: the demo's decisions are on the chart.
    expect(policyCharts[0]?.data.slice(1).some((line) => line.some((v) => v !== null && v > 0))).toBe(true);
    await page.locator("#results-panel").screenshot({ path: join(SHOTS, "charts-policies-1280.png") });

    await redraw(page, `rollout:${rolloutId}`);
    const rolloutCharts = await drawn(page);
    expect(rolloutCharts.map((c) => c.id)).toEqual([
      "ctr",
      "ctr-lift",
      "conversion",
      "conversion-lift",
      "revenuePerSession",
      "revenuePerSession-lift",
    ]);
    for (const chart of rolloutCharts) {
      const a = await api<Answer>(server.base, `/v1/timeseries?${chart.query}`);
      const lines = chart.id.endsWith("-lift") ? [a.lift?.points ?? []] : a.series.map((s) => s.points);
      expect(chart.data).toEqual(expectedData(lines));
      // The stage boundaries and the controller's decisions: the rollout's create at least.
      expect(chart.markers).toBe(a.markers.length);
      expect(chart.markers).toBeGreaterThan(0);
    }
    await page.locator("#results-panel").screenshot({ path: join(SHOTS, "charts-rollout-1280.png") });
    await page.screenshot({ path: join(SHOTS, "dashboard-1280.png"), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth, undefined, {
      timeout: 5_000,
    });
    await page.locator("#results-panel").screenshot({ path: join(SHOTS, "charts-rollout-phone.png") });
    await page.screenshot({ path: join(SHOTS, "dashboard-phone-top.png") });
    expect(problems).toEqual([]);
    await page.close();
  }, 30_000);
});
