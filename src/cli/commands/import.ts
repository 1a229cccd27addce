import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { toIso } from "../../core/clock.js";
import { LoopwiseError } from "../../core/errors.js";
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
      const { SqliteStore } = await import("../../storage/sqlite/database.js");
      const { SqliteDecisionStore } = await import("../../storage/sqlite/decision-store-sqlite.js");
      const config = await loadCliConfig(opts); // its reward window is the join's
      mkdirSync(config.dataDir, { recursive: true });
      const store = new SqliteStore(join(config.dataDir, "loopwise.db"));
      try {
        const result = await importDsjson(
          new SqliteDecisionStore(store),
          readFileSync(file, "utf8"),
          config.rewards.window,
        );
        const range = result.from === null ? "" : ` from ${toIso(result.from)} to ${toIso(result.to as number)}`;
        const skipped = Object.entries(result.skipped).map(([why, n]) => `${n} ${why}`);
        process.stdout.write(
          `imported ${result.imported} decisions${range}; ${result.duplicates} already in the log` +
            `${skipped.length > 0 ? `; skipped ${skipped.join(", ")}` : ""}\n`,
        );
      } finally {
        await store.close();
      }
    });
}
