import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../src/app/engine.js";
import { buildServer } from "../../src/server/server.js";

/**
 * The dashboard's files come from the server itself (issue 16: no CDN, strict CSP): its page, modules and
 * stylesheet, and uPlot from the installed package (or from dist/dashboard/vendor/ after `npm run build`).
 * Nothing else under /dashboard/ is served: not the server-side modules beside them.
 */
let engine: Engine;
let app: Awaited<ReturnType<typeof buildServer>>;

beforeAll(async () => {
  engine = await createEngine({
    dataDir: ":memory:",
    config: { logLevel: "silent", adminKey: "assets-test-key-0123" },
  });
  app = await buildServer(engine);
});
afterAll(async () => {
  await app?.close();
  await engine?.close();
});

describe("dashboard assets", () => {
  it("serves uPlot, the stylesheet and every module the page imports, under the page's CSP", async () => {
    const page = await app.inject({ method: "GET", url: "/" });
    const csp = page.headers["content-security-policy"] as string;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|\*/);
    const linked = [...page.body.matchAll(/(?:href|src)="(\/dashboard\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(linked).toEqual(
      expect.arrayContaining(["/dashboard/uPlot.min.css", "/dashboard/dashboard.css", "/dashboard/app.js"]),
    );
    const uplot = await app.inject({ method: "GET", url: "/dashboard/uPlot.esm.js" });
    expect(uplot.statusCode).toBe(200);
    expect(uplot.headers["content-type"]).toMatch(/^text\/javascript/);
    expect(uplot.body).toContain("export { uPlot as default }");
    // Every module reachable from app.js is served (a missing one would break the page, not a test).
    const seen = new Set<string>();
    const queue = ["app.js"];
    while (queue.length > 0) {
      const name = queue.shift() as string;
      if (seen.has(name)) continue;
      seen.add(name);
      const res = await app.inject({ method: "GET", url: `/dashboard/${name}` });
      expect(res.statusCode, name).toBe(200);
      for (const m of res.body.matchAll(/from "(?:\.\/|\/dashboard\/)([^"]+)"/g)) queue.push(m[1] as string);
    }
    expect(seen.has("charts.js") && seen.has("uPlot.esm.js")).toBe(true);
    const css = await app.inject({ method: "GET", url: "/dashboard/dashboard.css" });
    expect(css.headers["content-type"]).toMatch(/^text\/css/);
  });

  it("serves nothing else under /dashboard/", async () => {
    for (const name of ["timeseries.js", "overview.ts", "intervals.js", "..%2Fapp%2Fconfig.ts", "uPlot.cjs.js"]) {
      expect((await app.inject({ method: "GET", url: `/dashboard/${name}` })).statusCode, name).toBe(404);
    }
  });
});
