import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { saveModel } from "../../recommend/model-store.js";
import { DEFAULT_RECOMMENDER, recommenders } from "../../recommend/recommenders.js";
import { trainFromEventLog } from "../../recommend/train-from-log.js";
import { openSqliteEventLog } from "../../storage/sqlite/event-log-sqlite.js";

/**
 * `loopwise train --data-dir DIR [--model NAME]`: fits the session recommender on the event log in
 * DIR/loopwise.db and saves it to DIR/recommender-model.bin (atomic rename), where the server loads it at start.
 */
export function register(program: Command): void {
  program
    .command("train")
    .description("Train the session recommender from the event log and save it to the data dir")
    .requiredOption("--data-dir <dir>", "Loopwise data dir (holds loopwise.db)")
    .option("--model <name>", `model: ${Object.keys(recommenders).join(", ")}`, DEFAULT_RECOMMENDER)
    .option("--format <format>", "text or json", "text")
    .action(async (opts: { dataDir: string; model: string; format: string }) => {
      if (!recommenders[opts.model]) {
        throw new Error(`unknown model ${opts.model}; known: ${Object.keys(recommenders).join(", ")}`);
      }
      const dbPath = join(opts.dataDir, "loopwise.db");
      if (!existsSync(dbPath)) throw new Error(`no event log at ${dbPath} (is --data-dir the server's data dir?)`);
      const { log, store } = openSqliteEventLog(dbPath);
      try {
        const started = performance.now();
        const events = await log.count();
        const model = await trainFromEventLog(log, { model: opts.model });
        const path = await saveModel(model, opts.dataDir);
        const out = {
          model: model.name,
          version: model.version,
          items: model.vocab.itemIds.length,
          events,
          seconds: (performance.now() - started) / 1000,
          path,
        };
        if (opts.format === "json") process.stdout.write(`${JSON.stringify(out)}\n`);
        else
          process.stdout.write(
            `trained ${out.model} ${out.version} on ${events} events (${out.items} items) in ${out.seconds.toFixed(2)} s -> ${path}\n`,
          );
      } finally {
        await store.close();
      }
    });
}
