import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import type { EngineParts } from "../../app/engine-parts.js";
import type { ActivityOptions, DashboardActivity } from "../../dashboard/activity.js";
import { buildOverview, type ModelInfo } from "../../dashboard/overview.js";
import { subscribeActivity } from "../../dashboard/subscribe-activity.js";

export interface DashboardDeps {
  /** The engine's parts: metrics, policies, learning loop, clock, config; the decision store and event log are tapped. */
  parts: EngineParts;
  /** The serving recommender model (name, version, trainedAt), if any. */
  model?: () => ModelInfo | undefined;
  /** An activity view already attached (tests); default: `subscribeActivity(parts)`. */
  activity?: DashboardActivity;
  activityOptions?: ActivityOptions;
  /** When this process started serving (uptime); default: when the plugin was built. */
  startedAt?: number;
}

/** The page's ES modules and stylesheet (src/dashboard/), served from memory; nothing else under /dashboard/. */
const SCRIPTS = [
  "app.js",
  "dom.js",
  "panels.js",
  "rollouts.js",
  "lookup.js",
  "signin.js",
  "confirm.js",
  "charts.js",
  "results.js",
  "rollout-controls.js",
  "policy-controls.js",
  "evaluation-controls.js",
  "audit.js",
];
const STYLES = ["dashboard.css"];

/**
 * uPlot (issue 16: a chart library bundled with the server, no CDN). `npm run build` copies it next to the
 * compiled dashboard (scripts/copy-assets.mjs, dist/dashboard/vendor/); run from the sources, it is read
 * from the installed package. Either way the page loads it from this origin.
 */
const VENDOR: Record<string, { file: string; type: string }> = {
  // Served as /dashboard/<name> like the page's own files (one public route, server/route-scopes.ts).
  "uPlot.esm.js": { file: "uplot/dist/uPlot.esm.js", type: "text/javascript; charset=utf-8" },
  "uPlot.min.css": { file: "uplot/dist/uPlot.min.css", type: "text/css; charset=utf-8" },
};

const asset = (name: string): string => readFileSync(new URL(`../../dashboard/${name}`, import.meta.url), "utf8");

function vendorAsset(name: string, packagePath: string): string {
  const copied = new URL(`../../dashboard/vendor/${name}`, import.meta.url);
  if (existsSync(copied)) return readFileSync(copied, "utf8");
  return readFileSync(createRequire(import.meta.url).resolve(packagePath), "utf8");
}

/**
 * The page reads only the public API from its own origin: no inline script, no third-party anything.
 * Stylesheets from this origin and inline styles: an evaluation's self-contained HTML report (inline
 * <style>) is fetched with the tab's key and opened from a blob: URL, which inherits this policy (a link
 * cannot send the Authorization header).
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The dashboard: `GET /` and `GET /dashboard` serve the page, `GET /dashboard/<module>.js` its scripts, and
 * `GET /v1/overview` the live counts it polls (see dashboard/overview.ts). Attaching the plugin subscribes to
 * the engine's events (dashboard/subscribe-activity.ts) so the overview sees recent traffic.
 */
export function dashboardRoutes(deps: DashboardDeps): FastifyPluginAsync {
  const html = asset("index.html");
  const files = new Map<string, { body: string; type: string }>([
    ...SCRIPTS.map((name) => [name, { body: asset(name), type: "text/javascript; charset=utf-8" }] as const),
    ...STYLES.map((name) => [name, { body: asset(name), type: "text/css; charset=utf-8" }] as const),
    ...Object.entries(VENDOR).map(([name, v]) => [name, { body: vendorAsset(name, v.file), type: v.type }] as const),
  ]);
  const activity = deps.activity ?? subscribeActivity(deps.parts, deps.activityOptions);
  const startedAt = deps.startedAt ?? deps.parts.clock.now();
  const serve = (reply: FastifyReply, name: string) => {
    const file = files.get(name);
    if (file === undefined) return reply.callNotFound();
    return secure(reply).type(file.type).header("cache-control", "no-cache").send(file.body);
  };
  const page = (reply: FastifyReply) =>
    secure(reply).type("text/html; charset=utf-8").header("cache-control", "no-cache").send(html);
  return async (app) => {
    app.get("/", async (_req, reply) => page(reply));
    app.get("/dashboard", async (_req, reply) => page(reply));
    app.get<{ Params: { file: string } }>("/dashboard/:file", async (req, reply) => serve(reply, req.params.file));
    app.get("/v1/overview", async (_req, reply) => {
      reply.header("cache-control", "no-store");
      return buildOverview(deps.parts, activity, deps.model?.(), startedAt);
    });
  };
}

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CSP)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("x-frame-options", "DENY");
}
