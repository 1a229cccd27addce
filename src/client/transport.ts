import { LoopwiseApiError, LoopwiseNetworkError } from "./errors.js";
import type { ProblemDocument } from "./types.js";

export interface TransportOptions {
  baseUrl: string;
  apiKey?: string;
  fetch?: typeof fetch;
  /** Retries after the first attempt (default 3). */
  retries?: number;
  /** Per-attempt timeout in ms (default 10 000). */
  timeoutMs?: number;
  /** First backoff step in ms (default 100); doubles per attempt, capped at `maxBackoffMs` (default 5 000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** The longest Retry-After honoured, in ms (default 30 000); a longer one is waited this long. */
  maxRetryAfterMs?: number;
  /** Waits (default setTimeout); tests may pass a recorder. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface Call {
  method: "GET" | "POST" | "PUT";
  path: string;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /**
   * The request can be sent again without effect beyond the first (an idempotency key, or a read). Only then
   * are network errors and timeouts retried: the first attempt may have been applied with its answer lost.
   * 429 and 503 are retried for every request (the server did not apply it).
   */
  idempotent: boolean;
  accept?: "json" | "text";
}

/** Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * "Full jitter" exponential backoff (Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog 2015):
 * a uniform wait in [0, min(cap, base·2^attempt)], so clients that failed together do not retry together.
 */
export function backoffMs(attempt: number, base: number, cap: number, random: () => number): number {
  return random() * Math.min(cap, base * 2 ** attempt);
}

const sleeper = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createTransport(options: TransportOptions) {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const retries = options.retries ?? 3;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const base = options.backoffMs ?? 100;
  const cap = options.maxBackoffMs ?? 5_000;
  const maxRetryAfter = options.maxRetryAfterMs ?? 30_000;
  const sleep = options.sleep ?? sleeper;
  const random = options.random ?? Math.random;
  const root = options.baseUrl.replace(/\/+$/, "");

  const url = (call: Call): string => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return `${root}${call.path}${qs ? `?${qs}` : ""}`;
  };

  const attempt = async (call: Call): Promise<Response> => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const headers: Record<string, string> = { accept: call.accept === "text" ? "text/html" : "application/json" };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    if (call.body !== undefined) headers["content-type"] = "application/json";
    try {
      return await doFetch(url(call), {
        method: call.method,
        headers,
        signal: controller.signal,
        ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
      });
    } finally {
      clearTimeout(timer);
    }
  };

  return async function request<T>(call: Call): Promise<T> {
    for (let n = 0; ; n++) {
      let response: Response;
      try {
        response = await attempt(call);
      } catch (error) {
        if (!call.idempotent || n >= retries) {
          throw new LoopwiseNetworkError(`${call.method} ${call.path}: ${(error as Error).message}`, n + 1, error);
        }
        await sleep(backoffMs(n, base, cap, random));
        continue;
      }
      if ((response.status === 429 || response.status === 503) && n < retries) {
        const wait = retryAfterMs(response.headers.get("retry-after"), Date.now());
        await response.body?.cancel();
        await sleep(wait === undefined ? backoffMs(n, base, cap, random) : Math.min(maxRetryAfter, wait));
        continue;
      }
      return read<T>(response, call);
    }
  };
}

async function read<T>(response: Response, call: Call): Promise<T> {
  const text = await response.text();
  if (!response.ok) {
    let problem: ProblemDocument | undefined;
    try {
      const parsed = JSON.parse(text) as ProblemDocument;
      if (parsed && typeof parsed === "object" && "code" in parsed) problem = parsed;
    } catch {
      // not JSON: the error carries the text
    }
    throw new LoopwiseApiError(response.status, problem, text);
  }
  if (call.accept === "text") return text as T;
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

export type Request = ReturnType<typeof createTransport>;
