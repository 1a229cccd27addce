import type { FastifyPluginAsync } from "fastify";
import {
  type EvaluationRequest,
  type EvaluationResult,
  evaluationRequestSchema,
  renderEvaluationReport,
} from "../../app/evaluate.js";
import { type Clock, systemClock, toIso } from "../../core/clock.js";
import { LoopwiseError, validationError } from "../../core/errors.js";
import { newId } from "../../core/ids.js";
import { parseOrThrow } from "../../core/validate.js";
import type { RecordAction } from "./audit.js";

/**
 * Offline policy evaluation as background jobs: `POST /v1/evaluations` validates the request and answers
 * 202 with the job id at once; jobs run one at a time (evaluation is CPU-bound and shares the process
 * with ranking), at most `maxQueued` waiting (429 beyond); `GET /v1/evaluations/:id` gives status, progress in [0, 1] and, when done, the result;
 * `GET /v1/evaluations/:id/report` the self-contained HTML report.
 */
export interface EvaluationsDeps {
  runEvaluation: (request: EvaluationRequest, onProgress: (fraction: number) => void) => Promise<EvaluationResult>;
  clock?: Clock;
  /** Finished jobs kept for reading back (oldest dropped first). Default 100. */
  keep?: number;
  /**
   * Allow `obd:`, `dsjson:` and `file:` paths, which the server reads from its own disk. Off by default:
   * over HTTP that would let any caller read server files. The decision log (`loopwise:`) is always allowed.
   */
  allowFiles?: boolean;
  /** Jobs waiting behind the running one; more are refused with 429 QUEUE_FULL. Default 4. */
  maxQueued?: number;
  /** Writes admin actions to the audit timeline (routes/audit.ts). */
  record?: RecordAction;
}

type JobStatus = "queued" | "running" | "succeeded" | "failed";

interface Job {
  id: string;
  status: JobStatus;
  progress: number;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  request: EvaluationRequest;
  result?: EvaluationResult;
  error?: { code: string; message: string };
}

export function evaluationsRoutes(deps: EvaluationsDeps): FastifyPluginAsync {
  const clock = deps.clock ?? systemClock;
  const keep = deps.keep ?? 100;
  const maxQueued = deps.maxQueued ?? 4;
  const jobs = new Map<string, Job>();
  let queue: Promise<void> = Promise.resolve();

  const run = async (job: Job) => {
    job.status = "running";
    job.startedAt = clock.now();
    try {
      job.result = await deps.runEvaluation(job.request, (f) => {
        job.progress = Math.max(job.progress, Math.min(1, f));
      });
      job.status = "succeeded";
      job.progress = 1;
    } catch (e) {
      job.status = "failed";
      job.error = { code: e instanceof LoopwiseError ? e.code : "INTERNAL", message: (e as Error).message };
    }
    job.finishedAt = clock.now();
    prune(jobs, keep);
  };

  return async (app) => {
    app.post("/v1/evaluations", async (req, reply) => {
      const request = parseOrThrow(evaluationRequestSchema, req.body ?? {}) as EvaluationRequest;
      if (!deps.allowFiles) refuseFiles(request);
      const queued = [...jobs.values()].filter((j) => j.status === "queued").length;
      if (queued >= maxQueued) {
        throw new LoopwiseError(
          "QUEUE_FULL",
          `${queued} evaluations are already waiting (config evaluations.maxQueued); retry when one has finished`,
        );
      }
      const now = clock.now();
      const job: Job = { id: newId("eval", now), status: "queued", progress: 0, createdAt: now, request };
      jobs.set(job.id, job);
      queue = queue.then(() => run(job));
      await deps.record?.(req, {
        action: "evaluation.launch",
        target: { kind: "evaluation", id: job.id },
        summary: `launched an offline evaluation of ${(request.targets ?? []).join(", ") || "the default targets"} on ${request.logs}`,
        details: { request },
      });
      reply.code(202).header("location", `/v1/evaluations/${job.id}`);
      return view(job);
    });
    // Every job kept, newest first, without results (they can be large): what the dashboard lists and polls.
    app.get("/v1/evaluations", async () => ({
      evaluations: [...jobs.values()].reverse().map((job) => {
        const { result: _result, ...rest } = view(job);
        return { ...rest, hasResult: job.result !== undefined };
      }),
    }));
    app.get<{ Params: { id: string } }>("/v1/evaluations/:id", async (req) => view(find(jobs, req.params.id)));
    app.get<{ Params: { id: string } }>("/v1/evaluations/:id/report", async (req, reply) => {
      const job = find(jobs, req.params.id);
      if (!job.result) throw new LoopwiseError("CONFLICT", `evaluation "${job.id}" is ${job.status}, not finished`);
      reply.type("text/html; charset=utf-8");
      return renderEvaluationReport(job.result);
    });
  };
}

function refuseFiles(request: EvaluationRequest): void {
  const errors = [];
  if (!request.logs.startsWith("loopwise")) {
    errors.push({
      path: "logs",
      message: "only loopwise:[FROM..TO] is accepted over HTTP (file sources are disabled)",
    });
  }
  for (const [i, t] of (request.targets ?? []).entries()) {
    if (t.startsWith("file:")) errors.push({ path: `targets[${i}]`, message: "file: targets are disabled over HTTP" });
  }
  if (errors.length > 0) throw validationError(errors);
}

function find(jobs: Map<string, Job>, id: string): Job {
  const job = jobs.get(id);
  if (!job) throw new LoopwiseError("EVALUATION_NOT_FOUND", `evaluation "${id}" does not exist`);
  return job;
}

function view(job: Job): Record<string, unknown> {
  return {
    id: job.id,
    status: job.status,
    progress: job.progress,
    createdAt: toIso(job.createdAt),
    ...(job.startedAt !== undefined ? { startedAt: toIso(job.startedAt) } : {}),
    ...(job.finishedAt !== undefined ? { finishedAt: toIso(job.finishedAt) } : {}),
    request: job.request,
    ...(job.result ? { result: job.result } : {}),
    ...(job.error ? { error: job.error } : {}),
  };
}

function prune(jobs: Map<string, Job>, keep: number): void {
  const finished = [...jobs.values()].filter((j) => j.status === "succeeded" || j.status === "failed");
  for (const j of finished.slice(0, Math.max(0, finished.length - keep))) jobs.delete(j.id);
}
