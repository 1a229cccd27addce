import { connect, type Socket } from "node:net";
import type { HttpFigures } from "./autocannon-run.js";

/**
 * An open-loop load at a fixed offered rate: request i is due at start + i / rate, and is sent then whether or not
 * earlier ones were answered (on an idle keep-alive connection, or a new one). Its latency is counted from when it
 * was due, not from when it went out, so a client or server that falls behind is charged for the wait (what wrk2
 * calls correcting for coordinated omission).
 *
 * Why not autocannon's `overallRate`: it is a quota per connection per second, and each connection sends as fast
 * as it can until its quota is spent. Measured against a server that answers in 1 ms, at 1,000 req/s over 4
 * connections, per 100 ms: 100 179 221 227 233 40 0 0 0 0 | 178 210 253 259 100 0 0 0 0 0. So a "1,000 req/s"
 * case was a closed loop at saturation for most of each second and idle for the rest: its p99 was the latency at
 * saturation with 4 requests in flight, not at the rate the issue names.
 *
 * The client is lean so it takes little CPU from the server on a 2-core machine: raw sockets, one request buffer
 * per request, and a response parser that only reads the status, the content length (or chunked framing) and
 * skips the body. Sends are grouped per timer tick (setTimeout has a 1 ms floor): all requests due by then go out.
 */
export interface PacedOptions {
  /** Requests per second offered. */
  rate: number;
  /** Seconds of offered load (then the client waits for the answers still owed, up to `drainSeconds`). */
  duration: number;
  /** Connections opened at the start; more are opened whenever a request is due and none is idle. */
  connections: number;
  headers: Readonly<Record<string, string>>;
  /** Called with every response's latency (ms, from when the request was due), when it completes. */
  onResponse?: (latencyMs: number) => void;
  /** Connections at most; past it due requests wait for one (their wait still counts). Default 256. */
  maxConnections?: number;
  /** How long to wait for the last answers after the offered load ends (default 10 s); unanswered count as errors. */
  drainSeconds?: number;
}

export interface PacedRequest {
  method: "GET" | "POST";
  path: string;
  body?: string;
}

export interface PacedFigures extends HttpFigures {
  sent: number;
  connectionsOpened: number;
  /** Latency from when each request went out (what a closed-loop client such as autocannon reports). */
  fromSendMs: { p50: number; p99: number; max: number };
  /** How late requests went out after they were due (the client's own delays: its event loop, a busy core). */
  sendLagMs: { p50: number; p99: number; max: number };
}

interface InFlight {
  dueMs: number;
  /** When it went out (set by Connection.send). */
  sentMs: number;
}

const HEADER_END = Buffer.from("\r\n\r\n");
const CHUNKED_END = Buffer.from("0\r\n\r\n");

/** One keep-alive connection that carries one request at a time and parses just enough of each response. */
class Connection {
  readonly socket: Socket;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  inFlight: InFlight | undefined;
  closed = false;

  constructor(
    port: number,
    host: string,
    private readonly done: (conn: Connection, flight: InFlight, status: number) => void,
    private readonly failed: (conn: Connection, flight: InFlight | undefined) => void,
  ) {
    this.socket = connect({ port, host, noDelay: true });
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    const fail = () => {
      if (this.closed) return;
      this.closed = true;
      const flight = this.inFlight;
      this.inFlight = undefined;
      this.failed(this, flight);
    };
    this.socket.on("error", fail);
    this.socket.on("close", fail);
  }

  send(flight: InFlight, bytes: Buffer): void {
    flight.sentMs = performance.now();
    this.inFlight = flight;
    this.socket.write(bytes);
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const buf = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingBytes);
    const headerEnd = buf.indexOf(HEADER_END);
    if (headerEnd < 0) {
      this.keep(buf);
      return;
    }
    const head = buf.toString("latin1", 0, headerEnd);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const bodyStart = headerEnd + HEADER_END.length;
    let end: number;
    if (length) {
      end = bodyStart + Number(length[1]);
      if (buf.length < end) {
        this.keep(buf);
        return;
      }
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const last = buf.indexOf(CHUNKED_END, bodyStart);
      if (last < 0) {
        this.keep(buf);
        return;
      }
      end = last + CHUNKED_END.length;
    } else {
      end = bodyStart;
    }
    this.pending = [];
    this.pendingBytes = 0;
    // One request at a time per connection: a response never shares a chunk with the next one's.
    const flight = this.inFlight;
    this.inFlight = undefined;
    if (flight) this.done(this, flight, status);
  }

  private keep(buf: Buffer): void {
    this.pending = [buf];
    this.pendingBytes = buf.length;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** Runs the paced load against `url` (origin); `requestFor(i)` gives the i-th request. */
export async function pacedLoad(
  url: string,
  requestFor: (i: number) => PacedRequest,
  options: PacedOptions,
): Promise<PacedFigures> {
  const { hostname, port } = new URL(url);
  const host = hostname;
  const maxConnections = options.maxConnections ?? 256;
  const intervalMs = 1000 / options.rate;
  const total = Math.round(options.rate * options.duration);
  const headerLines = Object.entries({ host: `${host}:${port}`, connection: "keep-alive", ...options.headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const latencies = new Float64Array(total);
  const fromSend = new Float64Array(total);
  const lags = new Float64Array(total);
  let completed = 0;
  let errors = 0;
  let non2xx = 0;
  let sent = 0;
  let opened = 0;
  const idle: Connection[] = [];
  const all = new Set<Connection>();
  const waiting: { dueMs: number; bytes: Buffer }[] = [];
  let finish: (() => void) | undefined;
  const settled = () => {
    if (sent === total && completed + errors >= total) finish?.();
  };

  const dispatch = (conn: Connection) => {
    const next = waiting.shift();
    if (next) conn.send({ dueMs: next.dueMs, sentMs: 0 }, next.bytes);
    else idle.push(conn);
  };
  const onDone = (conn: Connection, flight: InFlight, status: number) => {
    const end = performance.now();
    const ms = end - flight.dueMs;
    fromSend[completed] = end - flight.sentMs;
    lags[completed] = flight.sentMs - flight.dueMs;
    latencies[completed++] = ms;
    if (status < 200 || status >= 300) non2xx++;
    options.onResponse?.(ms);
    dispatch(conn);
    settled();
  };
  const onFailed = (conn: Connection, flight: InFlight | undefined) => {
    all.delete(conn);
    const at = idle.indexOf(conn);
    if (at >= 0) idle.splice(at, 1);
    if (flight) errors++;
    settled();
  };
  const open = () => {
    const conn = new Connection(Number(port), host, onDone, onFailed);
    all.add(conn);
    opened++;
    return conn;
  };
  const bytesOf = (i: number): Buffer => {
    const r = requestFor(i);
    const body = r.body === undefined ? "" : r.body;
    const length = r.body === undefined ? "" : `content-length: ${Buffer.byteLength(body)}\r\n`;
    return Buffer.from(`${r.method} ${r.path} HTTP/1.1\r\n${headerLines}${length}\r\n${body}`);
  };

  for (let c = 0; c < options.connections; c++) idle.push(open());
  const start = performance.now();
  let drainTimer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    finish = resolve;
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * intervalMs <= now) {
        const dueMs = start + sent * intervalMs;
        const bytes = bytesOf(sent);
        sent++;
        const conn = idle.pop() ?? (all.size < maxConnections ? open() : undefined);
        if (conn) conn.send({ dueMs, sentMs: 0 }, bytes);
        else waiting.push({ dueMs, bytes });
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * intervalMs - performance.now()));
      else settled();
    };
    tick();
    // The answers still owed after the offered load: unanswered ones count as errors.
    drainTimer = setTimeout(
      () => {
        errors += total - completed - errors;
        resolve();
      },
      (options.duration + (options.drainSeconds ?? 10)) * 1000,
    );
  });
  clearTimeout(drainTimer);
  for (const conn of all) conn.close();
  const round = (ms: number) => Math.round(ms * 100) / 100;
  const summary = (values: Float64Array) => {
    const sorted = values.slice(0, completed).sort();
    const at = (q: number) =>
      completed === 0 ? Number.NaN : round(sorted[Math.min(completed - 1, Math.floor(q * completed))]!);
    return { p50: at(0.5), p99: at(0.99), max: at(1) };
  };
  const due = summary(latencies);
  return {
    requestsPerSec: completed / options.duration,
    requests: completed,
    p50Ms: due.p50,
    p99Ms: due.p99,
    maxMs: due.max,
    errors,
    non2xx,
    sent,
    connectionsOpened: opened,
    fromSendMs: summary(fromSend),
    sendLagMs: summary(lags),
  };
}
