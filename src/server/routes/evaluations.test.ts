import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import type { EvaluationRequest, EvaluationResult } from "../../app/evaluate.js";
import { ManualClock } from "../../core/clock.js";
import { isLoopwiseError } from "../../core/errors.js";
import { evaluateLog } from "../../ope/evaluate-log.js";
import { parseDsjson } from "../../ope/sources/dsjson-source.js";
import { loggingTarget, uniformTarget } from "../../ope/targets.js";
import { evaluationsRoutes } from "./evaluations.js";

const dsjson = [1, 2, 3, 1]
  .map(
    (a, i) =>
      `{"_label_cost":${-(i % 2)},"_label_probability":0.5,"_label_Action":${a},"a":[${a}],"p":[0.5],"c":{"_multi":[{"id":"x"},{"id":"y"},{"id":"z"}]}}`,
  )
  .join("\n");

/** A real evaluation (DSJSON text → evaluateLog) whose start the test controls. */
function controlledRunner() {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const seen: EvaluationRequest[] = [];
  const runEvaluation = async (
    request: EvaluationRequest,
    onProgress: (f: number) => void,
  ): Promise<EvaluationResult> => {
    seen.push(request);
    onProgress(0.25);
    await gate;
    if (request.logs === "dsjson:bad") throw new Error("cannot read bad");
    return evaluateLog(parseDsjson(dsjson), [loggingTarget(), uniformTarget()], {
      estimators: request.estimators ?? ["ips"],
      rewardModel: "tabular",
    });
  };
  return { runEvaluation, release, seen };
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(
  runner: ReturnType<typeof controlledRunner>,
  options: { allowFiles?: boolean; maxQueued?: number } = { allowFiles: true },
): Promise<FastifyInstance> {
  const instance = Fastify();
  instance.setErrorHandler((error, _req, reply) => {
    if (isLoopwiseError(error))
      return reply.code(error.status).send({ code: error.code, detail: error.message, errors: error.errors });
    return reply.code(500).send({ detail: String(error) });
  });
  await instance.register(
    evaluationsRoutes({
      runEvaluation: runner.runEvaluation,
      clock: new ManualClock(),
      allowFiles: options.allowFiles,
      ...(options.maxQueued === undefined ? {} : { maxQueued: options.maxQueued }),
    }),
  );
  return instance;
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe("evaluations routes", () => {
  it("starts a job (202), reports progress, then the result and an HTML report", async () => {
    const runner = controlledRunner();
    app = await build(runner);
    const post = await app.inject({
      method: "POST",
      url: "/v1/evaluations",
      payload: { logs: "dsjson:x", estimators: ["ips", "snips"] },
    });
    expect(post.statusCode).toBe(202);
    const { id } = post.json() as { id: string };
    expect(post.headers.location).toBe(`/v1/evaluations/${id}`);
    await settle();
    const running = (await app.inject({ url: `/v1/evaluations/${id}` })).json();
    expect(running).toMatchObject({ id, status: "running", progress: 0.25 });
    const listed = (await app.inject({ url: "/v1/evaluations" })).json();
    expect(listed.evaluations).toEqual([{ ...running, hasResult: false }]);
    expect((await app.inject({ url: `/v1/evaluations/${id}/report` })).statusCode).toBe(409);
    runner.release();
    await settle();
    const done = (await app.inject({ url: `/v1/evaluations/${id}` })).json();
    expect(done.status).toBe("succeeded");
    expect(done.progress).toBe(1);
    const [item] = (await app.inject({ url: "/v1/evaluations" })).json().evaluations;
    expect(item).toMatchObject({ id, status: "succeeded", progress: 1, hasResult: true });
    expect(item).not.toHaveProperty("result");
    expect(done.result.targets.map((t: { target: string }) => t.target)).toEqual(["logging", "uniform"]);
    expect(done.result.targets[1].estimates[0].value).toBeCloseTo(((2 / 3) * 2) / 4, 12);
    expect(runner.seen[0]?.estimators).toEqual(["ips", "snips"]);
    const report = await app.inject({ url: `/v1/evaluations/${id}/report` });
    expect(report.headers["content-type"]).toMatch(/text\/html/);
    expect(report.body).toContain("<svg");
  });

  it("bounds the queue: beyond maxQueued waiting jobs a submission is a 429 until one finishes", async () => {
    const runner = controlledRunner();
    app = await build(runner, { allowFiles: true, maxQueued: 2 });
    const submit = () =>
      (app as FastifyInstance).inject({ method: "POST", url: "/v1/evaluations", payload: { logs: "dsjson:x" } });
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await submit()).statusCode);
    // One running, two waiting, the fourth refused.
    expect(codes).toEqual([202, 202, 202, 429]);
    const refused = await submit();
    expect(refused.json()).toMatchObject({ code: "QUEUE_FULL" });
    runner.release();
    await settle();
    expect((await submit()).statusCode).toBe(202);
  });

  it("records a failed job with its message", async () => {
    const runner = controlledRunner();
    app = await build(runner);
    const { id } = (
      await app.inject({ method: "POST", url: "/v1/evaluations", payload: { logs: "dsjson:bad" } })
    ).json();
    runner.release();
    await settle();
    const failed = (await app.inject({ url: `/v1/evaluations/${id}` })).json();
    expect(failed).toMatchObject({ status: "failed", error: { code: "INTERNAL", message: "cannot read bad" } });
  });

  it("validates the body and names the field", async () => {
    app = await build(controlledRunner());
    const res = await app.inject({ method: "POST", url: "/v1/evaluations", payload: { logs: "", bootstrap: -1 } });
    expect(res.statusCode).toBe(400);
    const paths = (res.json().errors as { path: string }[]).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(["logs", "bootstrap"]));
  });

  it("refuses server-side file sources unless allowed", async () => {
    const runner = controlledRunner();
    app = await build(runner, {});
    const res = await app.inject({
      method: "POST",
      url: "/v1/evaluations",
      payload: { logs: "obd:/etc/passwd", targets: ["uniform", "file:/etc/shadow"] },
    });
    expect(res.statusCode).toBe(400);
    expect((res.json().errors as { path: string }[]).map((e) => e.path)).toEqual(["logs", "targets[1]"]);
    expect(runner.seen).toEqual([]);
    const ok = await app.inject({
      method: "POST",
      url: "/v1/evaluations",
      payload: { logs: "loopwise:[..2026-01-01]" },
    });
    expect(ok.statusCode).toBe(202);
  });

  it("answers 404 for an unknown job", async () => {
    app = await build(controlledRunner());
    const res = await app.inject({ url: "/v1/evaluations/eval_nope" });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe("EVALUATION_NOT_FOUND");
  });
});
