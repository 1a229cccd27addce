import type { Socket } from "node:net";
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

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

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

/** Fastify's own error codes (raised while reading the URL or the body) and the stable codes they answer with. */
const FRAMEWORK_CODES: Readonly<Record<string, { code: ErrorCode; detail: (e: FastifyError) => string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: "PAYLOAD_TOO_LARGE",
    detail: () => "request body exceeds the configured limit (bodyLimitBytes)",
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: "UNSUPPORTED_MEDIA_TYPE",
    detail: () => "send JSON with content-type: application/json",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "INVALID_JSON", detail: () => "the body is empty; send a JSON object" },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "INVALID_JSON", detail: () => "the body is not valid JSON" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: "BAD_REQUEST",
    detail: () => "the content-length header does not match the body",
  },
  FST_ERR_BAD_URL: {
    code: "BAD_URL",
    detail: () => "the URL is not valid: a path segment has bad percent-encoding (it must decode to UTF-8)",
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    code: "URI_TOO_LONG",
    detail: () => "a path parameter is too long (ids are at most 128 characters)",
  },
};

/** SQLite's result codes (better-sqlite3's `code`, extended ones included) for a store that cannot take writes now. */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY)(_|$)/;

/** The file system's errors for the same (the decision journal's write: storage/sqlite/decision-journal.ts). */
const DISK_UNAVAILABLE = new Set(["ENOSPC", "EDQUOT", "EIO", "EROFS"]);

/** Maps our errors and fastify's own (bad JSON, body too large, bad URL) to problem details; anything else is a 500. */
export function toProblem(error: unknown): Problem {
  if (isLoopwiseError(error)) return problem(error.code, error.message, error.errors);
  const fe = error as FastifyError;
  const known =
    typeof fe?.code === "string" && Object.hasOwn(FRAMEWORK_CODES, fe.code) ? FRAMEWORK_CODES[fe.code] : undefined;
  if (known) {
    const body = problem(known.code, known.detail(fe));
    if (known.code === "UNSUPPORTED_MEDIA_TYPE")
      body.errors = [{ path: "(header) content-type", message: "must be application/json" }];
    return body;
  }
  if (typeof fe?.code === "string" && (SQLITE_UNAVAILABLE.test(fe.code) || DISK_UNAVAILABLE.has(fe.code))) {
    // The SQLite log could not commit (locked by another process past the busy timeout, disk full, I/O error):
    // nothing of the write was acknowledged, and the operator sees the cause in the log (5xx are logged as errors).
    return problem("STORAGE_UNAVAILABLE", `the log could not be written (${fe.code}); nothing was stored: retry later`);
  }
  if (fe?.statusCode === 400 && error instanceof SyntaxError)
    return problem("INVALID_JSON", `body is not valid JSON: ${fe.message}`);
  if (fe?.statusCode === 400) return problem("BAD_REQUEST", fe.message);
  if (fe?.statusCode === 413) return problem("PAYLOAD_TOO_LARGE", fe.message);
  if (fe?.statusCode === 415) return problem("UNSUPPORTED_MEDIA_TYPE", fe.message);
  return problem("INTERNAL", "internal error; see the server log");
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  const entry = ErrorCodes[body.code];
  if (entry && "retryAfter" in entry) reply.header("retry-after", String(entry.retryAfter));
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
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

/**
 * Node's HTTP parser rejects some requests before fastify sees them (headers too large, a request that
 * took too long, unparseable HTTP): fastify's `clientErrorHandler` option writes the raw response, here a
 * problem document like every other error.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const code: ErrorCode =
    error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? "REQUEST_TIMEOUT"
      : error.code === "HPE_HEADER_OVERFLOW"
        ? "HEADERS_TOO_LARGE"
        : "BAD_REQUEST";
  const detail =
    code === "REQUEST_TIMEOUT"
      ? "the request was not received in time"
      : code === "HEADERS_TOO_LARGE"
        ? "the request line and headers exceed the server's limit (16 KB)"
        : "the request is not valid HTTP";
  const body = JSON.stringify(problem(code, detail));
  if (socket.writable) {
    const { status, title } = ErrorCodes[code];
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
