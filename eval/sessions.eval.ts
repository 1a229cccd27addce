import { join } from "node:path";
import { evaluateModels, formatTable, loadSplit, resolveModels } from "../src/cli/eval-sessions-run.js";
import { sharedDataDir } from "../src/core/data-dir.js";

/**
 * `npm run eval -- sessions [--model a,b]`: every session recommender on rsc15-100k and diginetica-sample under
 * PROTOCOL.md (P1–P6 from the raw files, checked against protocol_*.tsv), baselines beside the models.
 * diginetica-sample has 102 prediction events: a smoke test, not an accuracy figure.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const root = sharedDataDir();
  if (!root) {
    console.log("skipped: shared data dir not found (set LOOPWISE_DATA or create ../shared/data)");
    return { skipped: "no shared data" };
  }
  const modelArg = args.find((a) => a.startsWith("--model="))?.slice("--model=".length);
  const models = resolveModels(modelArg);
  const sets = {
    "rsc15-100k": {
      train: join(root, "sessions/rsc15-100k/yoochoose-clicks-100k_train_full.txt"),
      test: join(root, "sessions/rsc15-100k/yoochoose-clicks-100k_test.txt"),
    },
    "diginetica-sample": { train: join(root, "sessions/diginetica-sample/sample_train-item-views.csv") },
  } as const;
  const out: Record<string, unknown> = {};
  for (const [name, files] of Object.entries(sets)) {
    const split = loadSplit(files.train, "test" in files ? files.test : undefined);
    console.log(
      `\n${name}: P1–P6 vs protocol files: ${split.protocolCheck}; ${split.train.length} train / ${split.test.length} test sessions`,
    );
    const rows = evaluateModels(split, models);
    console.log(formatTable(rows));
    out[name] = {
      protocolCheck: split.protocolCheck,
      trainSessions: split.train.length,
      testSessions: split.test.length,
      results: rows,
    };
  }
  return out;
}
