/**
 * What a Personalizer client that calls a route Loopwise does not serve should use instead. The paths are the
 * rest of Personalizer's REST specification (v1.0 and v1.1-preview.3, `Personalizer.json`), relative to the
 * version's prefix: a client that calls one gets a 404 naming its Loopwise equivalent, and a path that is no
 * Personalizer route at all (a typo) gets a 404 listing the routes that are served.
 */
const UNSERVED: readonly { path: RegExp; instead: string }[] = [
  {
    path: /^\/configurations\/service$/,
    instead:
      "settings live in loopwise.config.json (or LOOPWISE_* environment variables) and are read at start; GET this route reads them in Personalizer's shape",
  },
  {
    path: /^\/configurations\/policy$/,
    instead:
      "learning settings are a policy spec: list them with GET /v1/policies, register one with POST /v1/policies and serve it with PUT /v1/policies/default or a rollout (POST /v1/rollouts)",
  },
  {
    path: /^\/configurations\/applyFromEvaluation$/,
    instead:
      "roll the evaluated policy out with POST /v1/rollouts (`loopwise rollout start`): it serves a growing share of traffic while it is compared with the incumbent",
  },
  {
    path: /^\/evaluations(\/[^/]+)?$/,
    instead: "offline evaluations are POST /v1/evaluations, GET /v1/evaluations/{id} and `loopwise evaluate`",
  },
  {
    path: /^\/model(\/properties)?$/,
    instead:
      "policies learn online inside Loopwise, with no model file to export or import: GET /v1/policies/{id} describes one; to start afresh, register a new policy (POST /v1/policies) and serve it",
  },
  {
    path: /^\/logs(\/properties)?$/,
    instead:
      "the decision log is read with `loopwise log stats` and `loopwise log export`; its retention is log.retention in loopwise.config.json",
  },
  {
    path: /^\/logs\/(interactions|observations)$/,
    instead:
      "uploads from a local-inference SDK are not accepted: rank through POST {prefix}/rank, or bring an exported DSJSON log with `loopwise import`",
  },
];

/** The 404's message for `method path` under a Personalizer version's `prefix`; `served` lists its own routes. */
export function unservedMessage(method: string, prefix: string, path: string, served: readonly string[]): string {
  const route = `${method} ${prefix}${path}`;
  const known = UNSERVED.find((u) => u.path.test(path));
  if (known) {
    return `Loopwise does not serve ${route} of the Personalizer API: ${known.instead.replace("{prefix}", prefix)} (docs/migrating-from-personalizer.md)`;
  }
  const routes = served.map((r) => r.replace(/:(\w+)/g, "{$1}"));
  return `${route} is not a route of the Personalizer API; under ${prefix} Loopwise serves ${routes.join(", ")}`;
}
