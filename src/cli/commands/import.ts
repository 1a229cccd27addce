import { mkdirSync } from "node:fs";
import type { Command } from "commander";
import type { DsjsonImport } from "../../app/dsjson-import.js";
import { toIso } from "../../core/clock.js";
import { isLoopwiseError, LoopwiseError } from "../../core/errors.js";
import { inFile } from "../../ope/logged-round.js";
import { openCliLog } from "../open-log.js";
import { loadCliConfig, withDataDir } from "../options.js";

/**
 * `loopwise import PATH...`: an exported Personalizer log (DSJSON) into the decision log (app/dsjson-import.ts).
 * Personalizer exported a loop's log as many files in dated folders; each PATH is a file or a folder (every
 * `.json`/`.dsjson` file under it, in path order, so hours import in time order). Files are read line by line:
 * an export's files run to gigabytes, more than one string can hold.
 */
export function register(program: Command): void {
  withDataDir(program.command("import"))
    .description(
      "import an exported Azure Personalizer log (DSJSON) into the decision log, for warm start and evaluation",
    )
    .argument("<paths...>", "DSJSON files (one event a line) or folders of them (an export's folder)")
    .option("-f, --format <format>", "dsjson (the only format so far)", "dsjson")
    .action(async (paths: string[], opts: { format: string; dataDir?: string; config?: string }) => {
      if (opts.format !== "dsjson")
        throw new LoopwiseError("VALIDATION_FAILED", `--format must be dsjson, got "${opts.format}"`);
      // Loaded here, not at start: `loopwise --help` must not pay for them (src/cli/index.ts).
      const { dsjsonFiles, fileLines } = await import("../../app/dsjson-files.js");
      const files = paths.flatMap(dsjsonFiles);
      const { importDsjson } = await import("../../app/dsjson-import.js");
      const config = await loadCliConfig(opts); // its reward window is the join's
      mkdirSync(config.dataDir, { recursive: true });
      const log = await openCliLog(config, { create: true });
      const result: DsjsonImport = { imported: 0, duplicates: 0, skipped: {}, from: null, to: null };
      try {
        for (const file of files) {
          const lines = fileLines(file);
          try {
            await importDsjson(log.decisions, lines, config.rewards.window, result);
          } catch (e) {
            // What came before is kept; the note says so. An error that is not the file's keeps its kind.
            const note = ` (${result.imported} decisions imported before it; importing again skips them)`;
            throw inFile(file, isLoopwiseError(e) ? new LoopwiseError(e.code, e.message + note, e.errors) : e);
          } finally {
            lines.close();
          }
          if (files.length > 1) process.stderr.write(`${file}: ${result.imported} decisions imported so far\n`);
        }
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
