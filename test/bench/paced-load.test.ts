import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pacedLoad } from "../../bench/support/paced-load.js";

/**
 * The benches' fixed-rate client (bench/support/paced-load.ts) against a local server: it must offer the rate
 * evenly (not each second's quota at once, as autocannon's overallRate does), keep sending while earlier requests
 * are unanswered, count a request's latency from when it was due, and read every framing the server uses.
 */
describe("pacedLoad", () => {
  let server: Server;
  let url = "";
  const arrivals: number[] = [];
  let served = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        arrivals.push(performance.now());
        const n = served++;
        const reply = () => {
          res.setHeader("content-type", "application/json");
          if (n % 3 === 1) {
            // No content-length: chunked, written in two parts.
            res.write('{"part":');
            res.end(`${n}}`);
          } else if (n % 3 === 2) {
            res.statusCode = 503;
            res.end('{"busy":true}');
          } else res.end(JSON.stringify({ n, pad: "x".repeat(20_000) })); // several TCP chunks
        };
        // The 20th and 21st requests are held 300 ms: both of the client's connections are busy then (one held
        // request alone left the other free to serve every request due meanwhile, 5 ms apart, on a fast machine),
        // so the requests due meanwhile must go out on time on connections of their own.
        if (n === 20 || n === 21) setTimeout(reply, 300);
        else reply();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("offers the rate evenly, keeps sending behind a slow answer and counts latency from when each was due", async () => {
    const latencies: number[] = [];
    const rate = 200;
    const figures = await pacedLoad(url, (i) => ({ method: "POST", path: "/x", body: JSON.stringify({ i }) }), {
      rate,
      duration: 1.5,
      connections: 2,
      headers: { "content-type": "application/json" },
      onResponse: (ms) => latencies.push(ms),
    });

    expect(figures.sent).toBe(300);
    expect(figures.errors).toBe(0);
    expect(latencies).toHaveLength(300);
    // Every third answer was a 503: counted as non-2xx, still a response.
    expect(figures.non2xx).toBe(100);
    // Arrivals spread over the run: no 100 ms window holds more than three times its share (20 requests; a client
    // that fell behind by a hiccup catches up in a burst). autocannon's quota per second would put most of a
    // second's 200 requests into its first one or two windows.
    const start = arrivals[0] as number;
    const windows = new Map<number, number>();
    for (const t of arrivals) {
      const w = Math.floor((t - start) / 100);
      windows.set(w, (windows.get(w) ?? 0) + 1);
    }
    expect(Math.max(...windows.values())).toBeLessThanOrEqual(3 * (rate / 10));
    // The held requests' latencies cover their 300 ms, and the requests due meanwhile went out on connections of their own.
    expect(figures.maxMs).toBeGreaterThanOrEqual(300);
    expect(figures.connectionsOpened).toBeGreaterThan(2);
    expect(latencies.filter((ms) => ms >= 250).length).toBeGreaterThanOrEqual(2);
    expect(figures.p50Ms).toBeLessThan(50);
    // From when it was due, never less than from when it went out.
    expect(figures.maxMs).toBeGreaterThanOrEqual(figures.fromSendMs.max);
  });

  it("charges a request for the time it went out late (coordinated omission)", async () => {
    // The client's own thread is blocked 150 ms early in the run: the requests due meanwhile go out after it.
    const block = setTimeout(() => {
      const until = performance.now() + 150;
      while (performance.now() < until) {}
    }, 100);
    const figures = await pacedLoad(url, (i) => ({ method: "GET", path: `/y/${i}` }), {
      rate: 100,
      duration: 0.6,
      connections: 2,
      headers: {},
    });
    clearTimeout(block);
    expect(figures.errors).toBe(0);
    expect(figures.sendLagMs.max).toBeGreaterThanOrEqual(100);
    // From when it was due, the request due at the block's start waited it out; from when it went out, it did not.
    expect(figures.maxMs).toBeGreaterThanOrEqual(100);
    expect(figures.fromSendMs.p50).toBeLessThan(50);
  });
});
