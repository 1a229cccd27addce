import { Pool } from "undici";
import { LoopwiseError } from "../../core/errors.js";
import type { IngestResponse, RankResponse, RewardResponse, UpsertItemsResponse } from "../../server/api-types.js";
import { type RolloutStatusLike, type SimTarget, TargetError } from "../target.js";

export interface HttpTargetOptions {
  /** Base URL of a running Loopwise, e.g. http://127.0.0.1:8080. Loopback only. */
  url: string;
  /**
   * The API key sent on every request (`authorization: Bearer KEY`): an admin key, since the simulator
   * also upserts the catalog, registers policies and starts rollouts.
   */
  adminKey?: string;
  /** Concurrent connections (bounds the request loop together with the driver's in-flight limit). */
  connections?: number;
  /** Per-request timeout, ms (default 10 s). */
  timeoutMs?: number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Refuses anything but a loopback address: the simulator is a load generator and must not aim elsewhere. */
export function assertLoopback(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LoopwiseError("VALIDATION_FAILED", `--target: "${url}" is not a URL (example: http://127.0.0.1:8080)`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new LoopwiseError("VALIDATION_FAILED", `--target: protocol ${parsed.protocol} is not http or https`);
  }
  if (!LOOPBACK.has(parsed.hostname) && !/^127\.\d+\.\d+\.\d+$/.test(parsed.hostname)) {
    throw new LoopwiseError(
      "VALIDATION_FAILED",
      `--target: ${parsed.hostname} is not a loopback address; the simulator only drives servers on this machine`,
    );
  }
  return parsed;
}

/**
 * A failed HTTP call: the status and problem code of TargetError, plus the server's `Retry-After` in ms
 * when it sent one (503 while a store is down, 429 past a rate limit), so a caller may retry after it.
 */
export class HttpTargetError extends TargetError {
  readonly retryAfterMs: number | undefined;
  constructor(status: number, code: string, message: string, retryAfterMs?: number) {
    super(status, code, message);
    this.retryAfterMs = retryAfterMs;
  }
}

/** One JSON call on a node: resolves the parsed body, or throws HttpTargetError. */
export type HttpCall = <T>(method: "GET" | "POST", path: string, body?: unknown) => Promise<T>;

/** A keep-alive connection pool on one loopback node and the JSON call over it. */
export function createHttpCaller(options: HttpTargetOptions): { call: HttpCall; close: () => Promise<void> } {
  const base = assertLoopback(options.url);
  const pool = new Pool(base.origin, { connections: options.connections ?? 16, pipelining: 1 });
  const prefix = base.pathname.replace(/\/$/, "");
  const timeout = options.timeoutMs ?? 10_000;

  async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (options.adminKey) headers.authorization = `Bearer ${options.adminKey}`;
    let res: Awaited<ReturnType<Pool["request"]>>;
    try {
      res = await pool.request({
        method,
        path: prefix + path,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (e) {
      throw new HttpTargetError(0, (e as { code?: string }).code ?? "NETWORK", (e as Error).message);
    }
    const text = await res.body.text();
    const json = text.length > 0 ? safeJson(text) : undefined;
    if (res.statusCode >= 400) {
      const problem = (json ?? {}) as { code?: string; detail?: string; title?: string };
      throw new HttpTargetError(
        res.statusCode,
        problem.code ?? `HTTP_${res.statusCode}`,
        problem.detail ?? problem.title ?? text,
        retryAfterMs(res.headers["retry-after"]),
      );
    }
    return json as T;
  }
  return { call, close: () => pool.close() };
}

/** Drives a running Loopwise over HTTP/1.1 keep-alive connections (undici Pool). */
export function createHttpTarget(options: HttpTargetOptions): SimTarget {
  const { call, close } = createHttpCaller(options);
  return {
    kind: "http",
    upsertItems: (body) => call<UpsertItemsResponse>("POST", "/v1/items", body),
    ingestEvents: (body) => call<IngestResponse>("POST", "/v1/events", body),
    rank: (body) => call<RankResponse>("POST", "/v1/rank", body),
    reward: (id, body) => call<RewardResponse>("POST", `/v1/decisions/${encodeURIComponent(id)}/reward`, body),
    registerPolicy: (body) => call<{ id: string; version?: number }>("POST", "/v1/policies", body),
    startRollout: (body) => call<RolloutStatusLike>("POST", "/v1/rollouts", body),
    getRollout: (id) => call<RolloutStatusLike>("GET", `/v1/rollouts/${encodeURIComponent(id)}`),
    close,
  };
}

/** `Retry-After` as ms: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
