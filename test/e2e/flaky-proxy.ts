import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A tiny HTTP proxy in front of a real server that fails the first request to each chosen route once:
 * `lose-answer` forwards it (the server applies it) and then cuts the connection before the answer, the
 * case idempotency keys exist for; `unavailable` answers 503 with Retry-After without forwarding.
 */
export type Failure = "lose-answer" | "unavailable";

export interface FlakyProxy {
  url: string;
  /** How many requests reached each `METHOD path` (through the proxy, failed ones included). */
  seen: Map<string, number>;
  close(): Promise<void>;
}

export async function startFlakyProxy(
  upstream: string,
  failFirst: (route: string) => Failure | undefined,
): Promise<FlakyProxy> {
  const seen = new Map<string, number>();
  const server: Server = createServer(async (req, res) => {
    const key = `${req.method} ${req.url?.split("?")[0]}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    const failure = n === 1 ? failFirst(key) : undefined;
    if (failure === "unavailable") {
      res.writeHead(503, { "retry-after": "0", "content-type": "application/problem+json" });
      res.end(
        JSON.stringify({
          type: "about:blank",
          title: "Unavailable",
          status: 503,
          detail: "proxy",
          code: "UNAVAILABLE",
        }),
      );
      return;
    }
    const answer = await fetch(`${upstream}${req.url}`, {
      method: req.method ?? "GET",
      headers: forwardedHeaders(req),
      ...(req.method === "GET" || req.method === "HEAD" ? {} : { body: (await readBody(req)).toString("utf8") }),
    });
    const body = Buffer.from(await answer.arrayBuffer());
    if (failure === "lose-answer") {
      req.socket.destroy(); // the server did the work; the client never hears of it
      return;
    }
    res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["authorization", "content-type", "accept"]) {
    const v = req.headers[name];
    if (typeof v === "string") out[name] = v;
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
