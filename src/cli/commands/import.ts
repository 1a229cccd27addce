import { existsSync, mkdirSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { toIso } from "../../core/clock.js";
import { LoopwiseError } from "../../core/errors.js";
import { openCliLog } from "../open-log.js";
import { loadCliConfig, withDataDir } from "../options.js";

/** `loopwise import FILE`: an exported Personalizer log (DSJSON) into the decision log (app/dsjson-import.ts). */
export function register(program: Command): void {
  withDataDir(program.command("import"))
    .description(
      "import an exported Azure Personalizer log (DSJSON) into the decision log, for warm start and evaluation",
    )
    .argument("<file>", "DSJSON file, one event a line")
    .option("-f, --format <format>", "dsjson (the only format so far)", "dsjson")
    .action(async (file: string, opts: { format: string; dataDir?: string; config?: string }) => {
      if (opts.format !== "dsjson")
        throw new LoopwiseError("VALIDATION_FAILED", `--format must be dsjson, got "${opts.format}"`);
      if (!existsSync(file)) throw new LoopwiseError("NOT_FOUND", `no file ${file}`);
      // Loaded here, not at start: `loopwise --help` must not pay for them (src/cli/index.ts).
      const { importDsjson } = await import("../../app/dsjson-import.js");
      const config = await loadCliConfig(opts); // its reward window is the join's
      mkdirSync(config.dataDir, { recursive: true });
      const log = await openCliLog(config, { create: true });
      try {
        const result = await importDsjson(log.decisions, readFileSync(file, "utf8"), config.rewards.window);
        const range = result.from === null ? "" : ` from ${toIso(result.from)} to ${toIso(result.to as number)}`;
        const skipped = Object.entries(result.skipped).map(([why, n]) => `${n} ${why}`);
        process.stdout.write(
          `imported ${result.imported} decisions${range}; ${result.duplicates} already in the log` +
            `${skipped.length > 0 ? `; skipped ${skipped.join(", ")}` : ""}\n`,
        );
      } finally {
        await log.close();
      }
    });
}
