import fc from "fast-check";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { pino } from "pino";
import { createEngine, type Engine } from "../../src/app/engine.js";
import { ID_PATTERN } from "../../src/events/event-schema.js";
import { buildServer } from "../../src/server/server.js";
import { hostilePathParam, hostileRawBody, hostileScalar, mutate } from "./hostile.js";
import { arbitraryFor, type JsonSchema } from "./schema-arbitrary.js";

/**
 * The API fuzzer (issue 14): for every route of the OpenAPI document (GET /v1/openapi.json), random valid
 * bodies (from the route's own request schema), mutations of them, and hostile bodies, paths and headers.
 * Properties: never a 5xx; every error is an RFC 9457 problem document with a stable code; acknowledged
 * writes are readable right after; and the server still answers a plain rank afterwards.
 * Requests go through fastify's inject (no sockets), so a run is CPU-bound and deterministic for a seed.
 */
export interface FuzzOptions {
  runs: number;
  seed: number;
}

export interface FuzzReport {
  requests: number;
  byStatus: Record<string, number>;
  byRoute: Record<string, number>;
}

interface Operation {
  method: string;
  path: string;
  body?: JsonSchema;
}

interface FuzzRequest {
  op: Operation;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

interface Harness {
  engine: Engine;
  app: FastifyInstance;
  knownIds: string[];
  report: FuzzReport;
}

export async function openHarness(): Promise<Harness> {
  const engine = await createEngine({
    dataDir: ":memory:",
    logger: pino({ level: "silent" }),
    // Evaluation jobs run in this thread for an in-memory engine: keep them short and few.
    config: { evaluations: { maxQueued: 2, timeLimit: 2000 } },
  });
  const app = await buildServer(engine);
  await app.ready();
  return { engine, app, knownIds: ["default", "uniform", "u-1", "a", "b"], report: emptyReport() };
}

export async function closeHarness(h: Harness): Promise<void> {
  await h.app.close();
  await h.engine.close();
}

function emptyReport(): FuzzReport {
  return { requests: 0, byStatus: {}, byRoute: {} };
}

/** The routes and request schemas, read from the served OpenAPI document. */
export async function operationsOf(app: FastifyInstance, key: string): Promise<Operation[]> {
  const res = await app.inject({ method: "GET", url: "/v1/openapi.json", headers: { authorization: `Bearer ${key}` } });
  const doc = res.json() as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const body = (op.requestBody as { content?: Record<string, { schema?: JsonSchema }> } | undefined)?.content?.[
        "application/json"
      ]?.schema;
      ops.push(body ? { method: method.toUpperCase(), path, body } : { method: method.toUpperCase(), path });
    }
  }
  return ops;
}

function requestArbitrary(ops: Operation[], h: Harness): fc.Arbitrary<FuzzRequest> {
  const pools = { ids: () => h.knownIds };
  const key = h.engine.adminKey;
  const auth = fc.oneof(
    { arbitrary: fc.constant(`Bearer ${key}`), weight: 17 },
    { arbitrary: fc.constant(undefined), weight: 1 },
    {
      arbitrary: fc.constantFrom("Bearer wrong", `Bearer ${key}x`, "Basic YTpi", `Bearer ${"k".repeat(5000)}`),
      weight: 2,
    },
  );
  const contentType = fc.oneof(
    { arbitrary: fc.constant("application/json"), weight: 12 },
    {
      arbitrary: fc.constantFrom(undefined, "text/plain", "application/xml", "application/json; charset=latin1"),
      weight: 1,
    },
  );
  const idParam = fc.oneof(
    { arbitrary: fc.constant(null).chain(() => fc.constantFrom(...h.knownIds)), weight: 3 },
    { arbitrary: arbitraryFor({ type: "string", pattern: ID_PATTERN.source }, pools), weight: 2 },
    { arbitrary: hostilePathParam, weight: 2 },
  );
  return fc.constantFrom(...ops).chain((op) =>
    fc
      .record({
        params: fc.array(idParam, { minLength: 4, maxLength: 4 }),
        body: bodyArbitrary(op, pools),
        auth,
        contentType,
        otherMethod: fc.oneof({ arbitrary: fc.constant(undefined), weight: 20 }, fc.constantFrom("DELETE", "PATCH")),
      })
      .map(({ params, body, auth: a, contentType: ct, otherMethod }) => {
        let i = 0;
        const url = op.path.replace(/\{[^}]+\}/g, () => {
          const p = params[i++] as string;
          return /%|^[A-Za-z0-9_.:-]*$/.test(p) ? p : encodeURIComponent(p);
        });
        const headers: Record<string, string> = {};
        if (a !== undefined) headers.authorization = a;
        const req: FuzzRequest = { op, method: otherMethod ?? op.method, url, headers };
        if (body !== undefined && op.method !== "GET") {
          if (ct !== undefined) headers["content-type"] = ct;
          req.payload = body;
        }
        return req;
      }),
  );
}

/**
 * Bodies that pass validation and do something, for the routes whose schemas alone rarely yield one (a
 * random string is seldom a policy type or a log source): so registrations, evaluations and rollouts run.
 */
function usefulBodies(route: string, known: fc.Arbitrary<string>): fc.Arbitrary<unknown> | undefined {
  const types = ["uniform", "softmax", "epsilon-greedy", "greedy", "thompson", "beta-bernoulli", "linucb"];
  const small = { dims: 1024 };
  switch (route) {
    case "POST /v1/policies":
      return fc.record(
        { id: known, type: fc.constantFrom(...types), features: fc.constant(small) },
        { requiredKeys: ["type"] },
      );
    case "PUT /v1/policies/default":
      return fc.record({ id: known });
    case "POST /v1/evaluations":
      return fc.record({
        logs: fc.constant("loopwise:"),
        targets: fc.subarray(["uniform", "policy:default", '{"type":"softmax","features":{"dims":1024}}']),
        estimators: fc.subarray(["ips", "snips", "dm", "dr"], { minLength: 1 }),
        bootstrap: fc.nat({ max: 50 }),
      });
    case "POST /v1/rollouts":
      return fc.record({ candidate: known, incumbent: fc.constantFrom("default", "uniform") });
    case "POST /v1/events":
      return fc.record({
        events: fc.array(
          fc.record(
            {
              type: fc.constantFrom("view", "click", "purchase", "wishlist_add"),
              userId: known,
              itemId: fc.constantFrom("a", "b", "c"),
              decisionId: known,
              value: fc.double({ min: 0, max: 100, noNaN: true }),
            },
            { requiredKeys: ["type", "userId", "itemId"] },
          ),
          { minLength: 1, maxLength: 5 },
        ),
      });
    default:
      return undefined;
  }
}

/** Valid (from the schema), useful, mutated, hostile and random bodies, as raw text. */
function bodyArbitrary(op: Operation, pools: { ids: () => string[] }): fc.Arbitrary<string | undefined> {
  if (!op.body) return fc.oneof({ arbitrary: fc.constant(undefined), weight: 5 }, hostileRawBody);
  const known = fc.constant(null).chain(() => fc.constantFrom(...pools.ids()));
  const useful = usefulBodies(`${op.method} ${op.path}`, known);
  const valid = useful ? fc.oneof(arbitraryFor(op.body, pools), useful) : arbitraryFor(op.body, pools);
  return fc.oneof(
    { arbitrary: valid.map((v) => JSON.stringify(v)), weight: 5 },
    { arbitrary: valid.chain(mutate).map((v) => JSON.stringify(v)), weight: 4 },
    { arbitrary: hostileScalar.map((v) => JSON.stringify(v)), weight: 1 },
    { arbitrary: hostileRawBody, weight: 1 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), weight: 1 },
  );
}

/** Fails with a message naming the request unless the response keeps the properties. */
function check(req: FuzzRequest, res: LightMyRequestResponse): void {
  const where = `${req.method} ${req.url.slice(0, 200)} (body ${String(req.payload).slice(0, 200)})`;
  if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${where}: ${res.body.slice(0, 500)}`);
  if (res.statusCode < 400) return;
  const type = String(res.headers["content-type"] ?? "");
  // Errors raised before routing (414, 431, a bad URL) are problem documents on every path.
  if (req.url.startsWith("/personalizer/") && !type.startsWith("application/problem+json")) {
    checkPersonalizerError(res, where);
    return;
  }
  if (!type.startsWith("application/problem+json"))
    throw new Error(`${res.statusCode} not a problem document for ${where}`);
  const body = res.json() as Record<string, unknown>;
  for (const field of ["type", "title", "detail", "code"]) {
    if (typeof body[field] !== "string") throw new Error(`problem without ${field} for ${where}: ${res.body}`);
  }
  if (body.status !== res.statusCode) throw new Error(`problem status ${body.status} ≠ ${res.statusCode} for ${where}`);
}

/**
 * The Personalizer-compatible routes answer errors in Personalizer's ErrorResponse (its clients parse
 * `error.code`), carrying Loopwise's stable code as `error.innerError.code` (routes/personalizer.ts).
 */
function checkPersonalizerError(res: LightMyRequestResponse, where: string): void {
  const type = String(res.headers["content-type"] ?? "");
  if (!type.startsWith("application/json"))
    throw new Error(`${res.statusCode} neither JSON nor a problem for ${where}`);
  const error = (res.json() as { error?: { code?: unknown; message?: unknown; innerError?: { code?: unknown } } })
    .error;
  if (typeof error?.code !== "string" || typeof error.message !== "string")
    throw new Error(`${res.statusCode} not a Personalizer error for ${where}: ${res.body.slice(0, 300)}`);
  if (typeof error.innerError?.code !== "string")
    throw new Error(`Personalizer error without innerError.code for ${where}: ${res.body.slice(0, 300)}`);
}

/** Acknowledged writes are readable at once: decisions, rewards and policies. */
async function checkReadable(h: Harness, req: FuzzRequest, res: LightMyRequestResponse): Promise<void> {
  if (res.statusCode >= 300 || req.method !== req.op.method) return;
  if (!String(res.headers["content-type"] ?? "").startsWith("application/json")) return;
  const get = (url: string) =>
    h.app.inject({ method: "GET", url, headers: { authorization: `Bearer ${h.engine.adminKey}` } });
  const body = res.json() as Record<string, unknown>;
  const route = `${req.op.method} ${req.op.path}`;
  if (route === "POST /v1/rank" || route === "POST /v1/decisions/{decisionId}/reward") {
    const id = body.decisionId as string;
    const read = await get(`/v1/decisions/${encodeURIComponent(id)}`);
    if (read.statusCode !== 200) throw new Error(`decision ${id} acknowledged but reads ${read.statusCode}`);
    const rewards = (read.json() as { rewards: { rewardId: string }[] }).rewards;
    // A `duplicate` names a reward id already stored (reward ids are unique across decisions).
    const stored = body.rewardId !== undefined && body.status !== "duplicate";
    if (stored && !rewards.some((r) => r.rewardId === body.rewardId))
      throw new Error(`reward ${String(body.rewardId)} acknowledged but not in decision ${id}`);
    remember(h, id);
  } else if (route === "POST /v1/policies") {
    const id = body.id as string;
    const read = await get(`/v1/policies/${encodeURIComponent(id)}`);
    if (read.statusCode !== 200) throw new Error(`policy ${id} acknowledged but reads ${read.statusCode}`);
    remember(h, id);
  } else if (typeof body.id === "string") remember(h, body.id);
}

function remember(h: Harness, id: string): void {
  if (h.knownIds.includes(id)) return;
  h.knownIds.push(id);
  if (h.knownIds.length > 200) h.knownIds.splice(5, 1);
}

/** The server still serves a plain rank (afterwards, and every so often during a run). */
export async function checkPlainRank(h: Harness): Promise<void> {
  const res = await h.app.inject({
    method: "POST",
    url: "/v1/rank",
    headers: { authorization: `Bearer ${h.engine.adminKey}`, "content-type": "application/json" },
    payload: JSON.stringify({ userId: "fuzz-check", candidates: [{ id: "a" }, { id: "b" }, { id: "c" }], slots: 2 }),
  });
  if (res.statusCode !== 200) throw new Error(`a plain rank answers ${res.statusCode}: ${res.body.slice(0, 300)}`);
  const ranking = (res.json() as { ranking: unknown[] }).ranking;
  if (ranking.length !== 2) throw new Error(`a plain rank returned ${ranking.length} slots, not 2`);
}

export async function fuzzApi(h: Harness, options: FuzzOptions): Promise<FuzzReport> {
  const ops = await operationsOf(h.app, h.engine.adminKey);
  const property = fc.asyncProperty(requestArbitrary(ops, h), async (req) => {
    const res = await h.app.inject({
      method: req.method as "GET",
      url: req.url,
      headers: req.headers,
      ...(req.payload === undefined ? {} : { payload: req.payload }),
    });
    count(h.report, `${req.op.method} ${req.op.path}`, res.statusCode);
    check(req, res);
    await checkReadable(h, req, res);
    if (h.report.requests % 500 === 0) await checkPlainRank(h);
  });
  await fc.assert(property, { seed: options.seed, numRuns: options.runs, endOnFailure: true });
  await checkPlainRank(h);
  return h.report;
}

function count(report: FuzzReport, route: string, status: number): void {
  report.requests++;
  report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
  report.byRoute[route] = (report.byRoute[route] ?? 0) + 1;
}
