/**
 * The one catalog of stable error codes. HTTP maps `status`; the CLI prints `message` and exits non-zero.
 * Codes are part of the public API: never rename one, only add.
 */
export const ErrorCodes = {
  VALIDATION_FAILED: { status: 400, title: "Request validation failed" },
  INVALID_JSON: { status: 400, title: "Body is not valid JSON" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "Payload too large" },
  UNAUTHORIZED: { status: 401, title: "Missing or wrong API key" },
  FORBIDDEN: { status: 403, title: "The API key's scope does not allow this" },
  NOT_FOUND: { status: 404, title: "Resource not found" },
  DECISION_NOT_FOUND: { status: 404, title: "Decision not found" },
  POLICY_NOT_FOUND: { status: 404, title: "Policy not found" },
  ROLLOUT_NOT_FOUND: { status: 404, title: "Rollout not found" },
  EVALUATION_NOT_FOUND: { status: 404, title: "Evaluation not found" },
  CONFLICT: { status: 409, title: "Conflicting state" },
  NO_CANDIDATES: { status: 422, title: "No candidates to rank" },
  RATE_LIMITED: { status: 429, title: "Too many requests for this API key" },
  UNAVAILABLE: { status: 503, title: "Service unavailable" },
  /** The log writer's bounded queue is full: the client retries after `retryAfter` seconds. */
  WRITE_QUEUE_FULL: { status: 503, title: "Too many writes queued; retry later", retryAfter: 1 },
  /**
   * The durable store (PostgreSQL) cannot be reached: the write was not acknowledged (it may or may not have
   * committed when the connection broke during COMMIT); retrying with the same id is safe, ids are idempotent.
   */
  STORAGE_UNAVAILABLE: { status: 503, title: "The durable store is unreachable; retry later", retryAfter: 2 },
  INTERNAL: { status: 500, title: "Internal error" },
  // Errors raised by the HTTP layer before a route runs (server/problem.ts maps fastify's and Node's).
  BAD_REQUEST: { status: 400, title: "Malformed request" },
  BAD_URL: { status: 400, title: "Malformed URL" },
  REQUEST_TIMEOUT: { status: 408, title: "Request timeout" },
  URI_TOO_LONG: { status: 414, title: "URI too long" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported media type" },
  HEADERS_TOO_LARGE: { status: 431, title: "Request headers too large" },
  /** A bounded job queue (offline evaluations) is full: retry later. */
  QUEUE_FULL: { status: 429, title: "Too many queued jobs" },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** One field-level problem: `path` is a JSON path like `events[3].userId`. */
export interface FieldError {
  path: string;
  message: string;
}

export class LoopwiseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;

  constructor(code: ErrorCode, message: string, errors?: FieldError[]) {
    super(message);
    this.name = "LoopwiseError";
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.errors = errors;
  }
}

export function validationError(errors: FieldError[]): LoopwiseError {
  const detail = errors.map((e) => `${e.path || "(root)"}: ${e.message}`).join("; ");
  return new LoopwiseError("VALIDATION_FAILED", detail, errors);
}

export function isLoopwiseError(e: unknown): e is LoopwiseError {
  return e instanceof LoopwiseError;
}
