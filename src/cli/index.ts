import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { isLoopwiseError } from "../core/errors.js";

/**
 * The `loopwise` CLI. One file per command under `commands/`, each exporting `register(program)`;
 * discovered here so adding a command never edits a shared list. Every command file is imported to build the
 * help, so a command file imports only light modules at its top (commander, core/errors, ../options.js) and
 * loads what its action needs with `await import(...)` inside the action: `loopwise --help` stays under half a
 * second instead of loading fastify, SQLite and the simulator.
 * Help style: descriptions in lower case without a final period; options as `--kebab-case <value>` with the
 * default in parentheses.
 */
export async function buildProgram(): Promise<Command> {
  const program = new Command("loopwise")
    .description("Loopwise: real-time personalization engine")
    .version(packageVersion(), "-V, --version", "print the version")
    .showHelpAfterError()
    .exitOverride();
  const dir = fileURLToPath(new URL("./commands/", import.meta.url));
  const files = readdirSync(dir)
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"))
    .sort();
  for (const file of files) {
    const mod = (await import(new URL(`./commands/${file}`, import.meta.url).href)) as {
      register?: (p: Command) => void;
    };
    mod.register?.(program);
  }
  return program;
}

/** package.json is two levels up from both src/cli/index.ts and dist/cli/index.js. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export async function runCli(argv: string[]): Promise<void> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number };
    if (typeof err.code === "string" && err.code.startsWith("commander.")) {
      process.exitCode = err.exitCode ?? 1;
      return;
    }
    const message = isLoopwiseError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    process.stderr.write(`loopwise: ${message}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await runCli(process.argv);
