import type { Server } from "node:http";

/**
 * Whether more writes may reach the log before the ones posted are acknowledged: while some open connection has
 * no request in flight. An HTTP/1.1 client waits for its answer before it sends the next request on a connection,
 * so once every connection has one in flight, nothing more can come until answers go out, and the log writer's
 * group commit delay (config storage.groupCommitMs) would only hold them back: the engine commits at once then.
 * A client sending one request at a time thus never waits out the delay; many clients near capacity, with idle
 * connections among them, get the fewer commits it buys. Pipelined requests count as in flight too (more of them
 * than connections: commit at once). Requests injected without a connection (tests) never wait.
 */
export function trackWriteDemand(server: Server): () => boolean {
  let connections = 0;
  let inFlight = 0;
  server.on("connection", (socket) => {
    connections++;
    socket.once("close", () => connections--);
  });
  // 'close' on the response: after it was sent, or when its connection closed first (an aborted request).
  server.on("request", (_req, res) => {
    inFlight++;
    res.once("close", () => inFlight--);
  });
  return () => inFlight < connections;
}
