import { PassThrough } from "node:stream";
import Fastify from "fastify";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { LoopwiseError } from "../core/errors.js";
import { createLogger } from "./logger.js";
import { errorHandler } from "./problem.js";

function capture(isTTY: boolean): { out: PassThrough & { isTTY: boolean }; text: () => string } {
  const out = Object.assign(new PassThrough(), { isTTY });
  let text = "";
  out.on("data", (d) => (text += String(d)));
  return { out, text: () => text };
}

describe("the process logger", () => {
  it("writes JSON lines when the output is not a terminal", () => {
    const { out, text } = capture(false);
    createLogger("info", out).info({ port: 8080 }, "loopwise listening");
    const line = JSON.parse(text().trim());
    expect(line).toMatchObject({ level: 30, msg: "loopwise listening", port: 8080 });
  });

  it("writes readable lines at a terminal", () => {
    const { out, text } = capture(true);
    createLogger("info", out).info({ port: 8080 }, "loopwise listening");
    expect(text()).toContain("loopwise listening");
    expect(text()).toMatch(/INFO/);
    expect(() => JSON.parse(text().trim())).toThrow();
  });
});

describe("request error logging", () => {
  async function logsOf(error: Error): Promise<{ status: number; lines: Record<string, unknown>[] }> {
    const { out, text } = capture(false);
    const app = Fastify();
    app.setErrorHandler(errorHandler(pino({ level: "info" }, out)));
    app.get("/x", async () => {
      throw error;
    });
    const res = await app.inject({ method: "GET", url: "/x" });
    await app.close();
    const lines = text()
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { status: res.statusCode, lines };
  }

  it("notes an expected 503 at warn, without a stack", async () => {
    const { status, lines } = await logsOf(new LoopwiseError("UNAVAILABLE", "no recommender model yet"));
    expect(status).toBe(503);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, code: "UNAVAILABLE", msg: "no recommender model yet" });
    expect(JSON.stringify(lines[0])).not.toMatch(/stack/);
  });

  it("does not log the caller's mistakes (4xx)", async () => {
    const { status, lines } = await logsOf(new LoopwiseError("VALIDATION_FAILED", "userId is required"));
    expect(status).toBe(400);
    expect(lines).toEqual([]);
  });

  it("logs an unexpected failure as an error with its stack", async () => {
    const { status, lines } = await logsOf(new Error("boom"));
    expect(status).toBe(500);
    expect(lines[0]).toMatchObject({ level: 50, msg: "request failed" });
    expect((lines[0]?.err as { stack?: string } | undefined)?.stack).toContain("boom");
  });
});
