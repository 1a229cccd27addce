import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeHarness, fuzzApi, openHarness, operationsOf } from "./api-fuzz.js";

/**
 * The API fuzz suite in CI: a fixed seed and a bounded number of requests (LOOPWISE_FUZZ_RUNS, default
 * 1500); `npm run fuzz -- --runs 20000` is the long mode (test/fuzz/run-fuzz.ts).
 */
const runs = Number(process.env.LOOPWISE_FUZZ_RUNS ?? 1500);
let harness: Awaited<ReturnType<typeof openHarness>>;

beforeAll(async () => {
  harness = await openHarness();
});
afterAll(async () => closeHarness(harness));

describe("API fuzz (issue 14)", () => {
  it("covers every route of the OpenAPI document", async () => {
    const ops = await operationsOf(harness.app, harness.engine.adminKey);
    expect(ops.length).toBeGreaterThan(20);
    expect(ops.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining(["POST /v1/rank", "POST /v1/events", "GET /v1/decisions/{decisionId}"]),
    );
  });

  it("never answers 5xx, answers every error as a problem document, keeps acknowledged writes readable", async () => {
    const report = await fuzzApi(harness, { runs, seed: 20261206 });
    expect(report.requests).toBe(runs);
    // The valid share of the generated requests is real: some of every kind of answer.
    expect(report.byStatus["200"]).toBeGreaterThan(runs / 20);
    expect(report.byStatus["400"]).toBeGreaterThan(runs / 20);
    const routes = Object.keys(report.byRoute).length;
    expect(routes).toBe((await operationsOf(harness.app, harness.engine.adminKey)).length);
  }, 30_000);
});
