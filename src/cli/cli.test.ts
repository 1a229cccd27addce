import { readFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import type { Command } from "commander";
import { describe, expect, it, vi } from "vitest";
import { buildProgram } from "./index.js";
import { startProgress } from "./progress.js";

function allCommands(program: Command): Command[] {
  return program.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** Runs the CLI in this process and returns what it printed on stdout. */
async function cli(...args: string[]): Promise<string> {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await (await buildProgram()).parseAsync(["node", "loopwise", ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe("the loopwise CLI", () => {
  it("has one help style: lower-case command descriptions, no final period on commands and options", async () => {
    const commands = allCommands(await buildProgram());
    expect(commands.map((c) => c.name())).toEqual(expect.arrayContaining(["serve", "train", "evaluate", "simulate"]));
    for (const command of commands) {
      expect(command.description(), command.name()).toMatch(/^[a-z]/);
      expect(command.description(), command.name()).not.toMatch(/\.$/);
      for (const option of command.options) expect(option.description, option.flags).not.toMatch(/\.$/);
    }
  });

  it("gives every command that reads the data dir the same --data-dir and --config options", async () => {
    const commands = allCommands(await buildProgram()).filter((c) => c.commands.length === 0);
    const readers = ["serve", "train", "evaluate", "export", "stats", "start", "status", "pause", "resume", "abort"];
    for (const name of readers) {
      const command = commands.find((c) => c.name() === name);
      expect(command, name).toBeDefined();
      const flags = command!.options.map((o) => o.long);
      expect(flags, name).toEqual(expect.arrayContaining(["--data-dir", "--config"]));
    }
  });

  it("prints the package's version", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    const program = (await buildProgram()).exitOverride();
    let out = "";
    program.configureOutput({ writeOut: (s) => (out += s) });
    await expect(program.parseAsync(["node", "loopwise", "--version"])).rejects.toMatchObject({
      code: "commander.version",
    });
    expect(out.trim()).toBe(pkg.version);
  });

  it("simulates the default scenario when none is named", async () => {
    const report = JSON.parse(await cli("simulate", "--in-process", "--days", "0.02", "--format", "json"));
    expect(report.scenario).toBe("default");
    expect(report.requests.total).toBeGreaterThan(0);
  });
});

describe("progress bars", () => {
  function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: () => string } {
    const stream = Object.assign(new PassThrough(), {
      isTTY,
      columns: 80,
      cursorTo: () => true,
      clearLine: () => true,
    });
    let text = "";
    stream.on("data", (d) => (text += String(d)));
    return { stream: stream as unknown as NodeJS.WriteStream, written: () => text };
  }

  it("draw on a terminal", async () => {
    const { stream, written } = fakeStream(true);
    const bar = await startProgress("export", stream);
    bar.update(0.5);
    bar.stop();
    expect(written()).toContain("export");
    expect(written()).toMatch(/50%/);
  });

  it("stay silent when the output is not a terminal (pipes, files, CI logs)", async () => {
    const { stream, written } = fakeStream(false);
    const bar = await startProgress("export", stream);
    bar.update(0.5);
    bar.stop();
    expect(written()).toBe("");
  });
});
