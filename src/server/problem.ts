import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { type ErrorCode, ErrorCodes, type FieldError, isLoopwiseError } from "../core/errors.js";

/** RFC 9457 problem details plus our stable `code` and, for validation, per-field `errors`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: FieldError[];
}

export function problem(code: ErrorCode, detail: string, errors?: FieldError[]): Problem {
  const { status, title } = ErrorCodes[code];
  const body: Problem = {
    type: `https://loopwise.dev/errors/${code.toLowerCase().replaceAll("_", "-")}`,
    title,
    status,
    detail,
    code,
  };
  if (errors && errors.length > 0) body.errors = errors;
  return body;
}

/** Maps our errors and fastify's own (bad JSON, body too large) to problem details; anything else is a 500. */
export function toProblem(error: unknown): Problem {
  if (isLoopwiseError(error)) return problem(error.code, error.message, error.errors);
  const fe = error as FastifyError;
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return problem("PAYLOAD_TOO_LARGE", "request body exceeds the configured limit (bodyLimitBytes)");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return problem("VALIDATION_FAILED", "send JSON with content-type: application/json", [
        { path: "(header) content-type", message: "must be application/json" },
      ]);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return problem("INVALID_JSON", "the body is empty; send a JSON object");
  }
  if (fe.statusCode === 400 && error instanceof SyntaxError)
    return problem("INVALID_JSON", `body is not valid JSON: ${fe.message}`);
  if (fe.statusCode === 400) return problem("INVALID_JSON", fe.message);
  return problem("INTERNAL", "internal error; see the server log");
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type("application/problem+json").send(body);
}

/**
 * Logs only what an operator must look at: an unexpected failure (a 500) as an error with its stack. A 4xx is
 * the caller's mistake, answered in the body; a 503 we raise on purpose (no model yet, back-pressure) is an
 * expected condition, noted at warn without a stack so it never reads like a crash.
 */
export function errorHandler(logger: Logger) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const body = toProblem(error);
    const where = { method: request.method, url: request.url };
    if (body.status === 503 && isLoopwiseError(error)) logger.warn({ ...where, code: body.code }, body.detail);
    else if (body.status >= 500) logger.error({ err: error, ...where }, "request failed");
    return sendProblem(reply, body);
  };
}
