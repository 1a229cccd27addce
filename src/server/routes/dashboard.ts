import { readFileSync } from "node:fs";
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

/** The page's ES modules (src/dashboard/*.js), served from memory; nothing else under /dashboard/. */
const SCRIPTS = ["app.js", "dom.js", "panels.js", "rollouts.js", "lookup.js", "signin.js"];

const asset = (name: string): string => readFileSync(new URL(`../../dashboard/${name}`, import.meta.url), "utf8");

/**
 * The page reads only the public API from its own origin: no inline script, no third-party anything.
 * Inline styles are allowed (one self-contained HTML file).
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'unsafe-inline'",
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
  const scripts = new Map(SCRIPTS.map((name) => [name, asset(name)]));
  const activity = deps.activity ?? subscribeActivity(deps.parts, deps.activityOptions);
  const startedAt = deps.startedAt ?? deps.parts.clock.now();
  const page = (reply: FastifyReply) =>
    secure(reply).type("text/html; charset=utf-8").header("cache-control", "no-cache").send(html);
  return async (app) => {
    app.get("/", async (_req, reply) => page(reply));
    app.get("/dashboard", async (_req, reply) => page(reply));
    app.get<{ Params: { file: string } }>("/dashboard/:file", async (req, reply) => {
      const script = scripts.get(req.params.file);
      if (script === undefined) return reply.callNotFound();
      return secure(reply).type("text/javascript; charset=utf-8").header("cache-control", "no-cache").send(script);
    });
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
