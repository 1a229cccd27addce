import { mkdtempSync, rmSync } from "node:fs";
import { Agent, createServer, request, type ServerResponse } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createEngine } from "../app/engine.js";
import { buildServer } from "./server.js";
import { trackWriteDemand } from "./write-demand.js";

describe("trackWriteDemand", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it("says more writes may come while some connection has no request in flight", async () => {
    const held: ServerResponse[] = [];
    const server = createServer((_req, res) => {
      held.push(res);
    });
    const moreMayCome = trackWriteDemand(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => server.close());
    const { port } = server.address() as AddressInfo;
    // One connection each: keep-alive agents with a single socket.
    const agents = [new Agent({ keepAlive: true, maxSockets: 1 }), new Agent({ keepAlive: true, maxSockets: 1 })];
    cleanups.push(() => {
      for (const a of agents) a.destroy();
    });
    const send = (agent: Agent) =>
      new Promise<void>((answered) => {
        request({ port, host: "127.0.0.1", agent, path: "/" }, (res) => res.resume().on("end", answered)).end();
      });

    expect(moreMayCome()).toBe(false); // no connection: nobody can send

    const first = send(agents[0] as Agent);
    await until(() => held.length === 1);
    expect(moreMayCome()).toBe(false); // the only connection waits on its answer

    const second = send(agents[1] as Agent);
    await until(() => held.length === 2);
    expect(moreMayCome()).toBe(false); // both wait

    held[0]?.end("ok");
    await first;
    await until(() => moreMayCome()); // connection 1 is idle (kept alive): it may send again
    expect(moreMayCome()).toBe(true);

    held[1]?.end("ok");
    await second;
    for (const a of agents) a.destroy();
    await until(() => !moreMayCome()); // both connections closed
    expect(moreMayCome()).toBe(false);
  });

  it("is what the server gives the engine's log writer when a group commit delay is set, and only then", async () => {
    for (const groupCommitMs of [4, 0]) {
      const dataDir = mkdtempSync(join(tmpdir(), "loopwise-demand-"));
      const engine = await createEngine({
        dataDir,
        logger: pino({ level: "silent" }),
        config: { storage: { groupCommitMs } },
      });
      const given = vi.spyOn(engine, "waitForMoreWrites");
      const app = await buildServer(engine);
      let socket: Socket | undefined;
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      try {
        if (groupCommitMs === 0) {
          expect(given).not.toHaveBeenCalled();
          continue;
        }
        expect(given).toHaveBeenCalledTimes(1);
        const moreMayCome = given.mock.calls[0]?.[0] as () => boolean;
        await app.listen({ port: 0, host: "127.0.0.1" });
        expect(moreMayCome()).toBe(false);
        // An idle connection to this server: a client that may still send.
        socket = connect((app.server.address() as AddressInfo).port, "127.0.0.1");
        await until(() => moreMayCome());
        expect(moreMayCome()).toBe(true);
      } finally {
        socket?.destroy(); // an open connection would hold the server's close
        await app.close();
        await engine.close();
      }
    }
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
}
