import { basename, dirname } from "node:path";
import type { Command } from "commander";
import { commandGroup } from "../group.js";

/** `loopwise eval sessions`: the next-item protocol of ../shared/data/sessions/PROTOCOL.md (../eval-sessions-run.ts). */
export function register(program: Command): void {
  commandGroup(program, "eval", "offline evaluations on the shared data sets")
    .command("sessions")
    .description(
      "next-item evaluation of the session recommenders (PROTOCOL.md): HR@10/20, MRR@10/20, fit and predict time",
    )
    .option("--train <file>", "raw clicks (yoochoose tsv / diginetica csv) or protocol_train.tsv")
    .option("--test <file>", "raw test clicks or protocol_test.tsv")
    .option("--dataset <name>", "shared data set instead of files: rsc15-100k or diginetica-sample")
    .option("--test-days <n>", "test window in days (default: 1 for yoochoose, 7 for diginetica)")
    .option("--model <names>", "model name(s), comma-separated, or all", "all")
    .option("--format <format>", "table | json", "table")
    .action(
      async (opts: {
        train?: string;
        test?: string;
        dataset?: string;
        testDays?: string;
        model?: string;
        format: string;
      }) => {
        const { datasetFiles, evaluateModels, formatTable, loadSplit, resolveModels } = await import(
          "../eval-sessions-run.js"
        );
        const files = opts.dataset
          ? datasetFiles(opts.dataset)
          : opts.train
            ? { train: opts.train, test: opts.test }
            : undefined;
        if (!files) throw new Error("give --train FILE [--test FILE] or --dataset NAME");
        const split = loadSplit(
          files.train,
          files.test,
          opts.testDays !== undefined ? Number(opts.testDays) : undefined,
        );
        const rows = evaluateModels(split, resolveModels(opts.model));
        const summary = {
          data: basename(dirname(files.train)),
          source: split.source,
          protocolCheck: split.protocolCheck,
          trainSessions: split.train.length,
          testSessions: split.test.length,
          events: rows[0]?.events ?? 0,
        };
        if (opts.format === "json") {
          process.stdout.write(`${JSON.stringify({ ...summary, results: rows }, null, 2)}\n`);
          return;
        }
        process.stdout.write(`${JSON.stringify(summary)}\n${formatTable(rows)}\n`);
      },
    );
}
