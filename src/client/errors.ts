import type { ProblemDocument } from "./types.js";

/** The server answered an error: its RFC 9457 problem document, with the stable `code`. */
export class LoopwiseApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: ProblemDocument | undefined;

  constructor(status: number, problem: ProblemDocument | undefined, fallbackText: string) {
    super(problem ? `${problem.code}: ${problem.detail}` : `HTTP ${status}: ${fallbackText.slice(0, 200)}`);
    this.name = "LoopwiseApiError";
    this.status = status;
    this.code = problem?.code ?? `HTTP_${status}`;
    this.problem = problem;
  }
}

/** No answer: the connection failed or the per-attempt timeout passed, on every allowed attempt. */
export class LoopwiseNetworkError extends Error {
  readonly attempts: number;

  constructor(message: string, attempts: number, cause?: unknown) {
    super(message, { cause });
    this.name = "LoopwiseNetworkError";
    this.attempts = attempts;
  }
}
