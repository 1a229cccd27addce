import type { Command } from "commander";
import type { EventLog } from "../../events/event-log.js";
import { openCliLog } from "../open-log.js";
import { type DataDirOptions, loadCliConfig, withDataDir } from "../options.js";
import { type Progress, withProgress } from "../progress.js";

/**
 * `loopwise train [--data-dir DIR] [--model NAME]`: fits the session recommender on the event log in
 * DIR/loopwise.db (DIR: the server's data dir, ./data by default) and saves it to DIR/recommender-model.bin
 * (atomic rename), where the server loads it at start.
 */
export function register(program: Command): void {
  withDataDir(
    program
      .command("train")
      .description("train the session recommender from the event log and save it to the data dir")
      .option("--model <name>", "recommender (default: the config's recommend.model, vstan)")
      .option("--format <format>", "text | json", "text"),
  ).action(async (opts: DataDirOptions & { model?: string; format: string }) => {
    const config = await loadCliConfig(opts);
    const { recommenders } = await import("../../recommend/recommenders.js");
    const model = opts.model ?? config.recommend.model;
    if (!recommenders[model]) throw new Error(`unknown model ${model}; known: ${Object.keys(recommenders).join(", ")}`);
    const { trainFromEventLog } = await import("../../recommend/train-from-log.js");
    const { saveModel } = await import("../../recommend/model-store.js");
    const opened = await openCliLog(config, { what: "event log" }); // the data dir's SQLite file, or PostgreSQL when configured
    const log = opened.events;
    try {
      const started = performance.now();
      const events = await log.count();
      const trained = await withProgress("train", (progress) =>
        trainFromEventLog(reportingReads(log, events, progress), { model }),
      );
      const path = await saveModel(trained, config.dataDir);
      const out = {
        model: trained.name,
        version: trained.version,
        items: trained.vocab.itemIds.length,
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
      await opened.close();
    }
  });
}

/** The event log, reporting the share of events read: reading is most of a training run's wait on a big log. */
function reportingReads(log: EventLog, total: number, progress: Progress): EventLog {
  return {
    append: (events) => log.append(events),
    count: () => log.count(),
    close: () => log.close(),
    scan: async function* (options) {
      let read = 0;
      for await (const batch of log.scan(options)) {
        read += batch.length;
        progress.update(read / Math.max(1, total));
        yield batch;
      }
    },
  };
}
