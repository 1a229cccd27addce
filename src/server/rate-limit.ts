import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance } from "fastify";
import type { LoopwiseConfig } from "../app/config.js";
import { LoopwiseError } from "../core/errors.js";
import { requiredScope } from "./route-scopes.js";

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Per-key rate limits on the write routes (config `rateLimit: {max, timeWindow}`; off when unset), with
 * @fastify/rate-limit's in-process store. Counted per key name, so rotating a key keeps its budget and two
 * keys of one application do not share one; with auth none, per client address. Registered after the auth
 * hook, so its route-level hook sees the authenticated key. Past the limit: a 429 problem document, with
 * Retry-After (seconds) set by the plugin.
 */
export async function installRateLimit(app: FastifyInstance, config: LoopwiseConfig["rateLimit"]): Promise<void> {
  if (!config) return;
  await app.register(rateLimit, {
    global: true,
    max: config.max,
    timeWindow: config.timeWindow,
    allowList: (req) => READS.has(req.method) || requiredScope(req.method, req.routeOptions.url) === "public",
    keyGenerator: (req) => (req.apiKey ? `key:${req.apiKey.name}` : `ip:${req.ip}`),
    errorResponseBuilder: (req, context) =>
      new LoopwiseError(
        "RATE_LIMITED",
        `${req.apiKey ? `key "${req.apiKey.name}"` : "this client"} sent more than ${context.max} write requests in ${config.timeWindow / 1000} s; retry in ${Math.max(1, Math.ceil(context.ttl / 1000))} s`,
      ),
  });
}
