import { Agent, createServer, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
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
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
}
