import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { sharedDataDir } from "../core/data-dir.js";
import { evaluateNextItem, type NextItemMetrics } from "../recommend/evaluate-next-item.js";
import {
  applyProtocol,
  type ProtocolClick,
  type ProtocolSplit,
  parseDiginetica,
  parseProtocolFile,
  parseYoochoose,
} from "../recommend/protocol.js";
import { recommenders, trainRecommender } from "../recommend/recommenders.js";
import { buildDataset, type SessionSequence } from "../recommend/session-dataset.js";

/**
 * What `loopwise eval sessions` runs (commands/eval-sessions.ts registers it and loads this on use): the next-item protocol of ../shared/data/sessions/PROTOCOL.md. From raw files it
 * applies P1–P6 (and, when protocol_train/test.tsv sit beside them, checks the result equals them); the
 * protocol files themselves are accepted too. Every model trains on the same dataset built once.
 */
export interface SessionsEvalRow extends NextItemMetrics {
  model: string;
  fitSeconds: number;
  /** Process peak resident set so far (includes earlier models: compare rows as an upper bound). */
  peakRssMb: number;
}

export interface LoadedSplit extends ProtocolSplit {
  source: "raw" | "protocol-files";
  /** Raw input only: whether P1–P6 reproduced protocol_train/test.tsv found beside the input. */
  protocolCheck: "match" | "mismatch" | "not checked";
}

const BASELINES = ["pop", "spop", "iknn"];

export function loadSplit(trainFile: string, testFile?: string, testDays?: number): LoadedSplit {
  const trainText = readFileSync(trainFile, "utf8");
  const header = trainText.slice(0, trainText.indexOf("\n"));
  if (header.includes("Position")) {
    if (!testFile) throw new Error("--test is required with a protocol_train.tsv input");
    return {
      train: parseProtocolFile(trainText),
      test: parseProtocolFile(readFileSync(testFile, "utf8")),
      source: "protocol-files",
      protocolCheck: "not checked",
    };
  }
  const diginetica = header.includes("session_id;");
  const parse = diginetica ? parseDiginetica : parseYoochoose;
  const clicks: ProtocolClick[] = parse(trainText);
  if (testFile) clicks.push(...parse(readFileSync(testFile, "utf8"), clicks.length));
  const split = applyProtocol(clicks, testDays ?? (diginetica ? 7 : 1));
  return { ...split, source: "raw", protocolCheck: checkAgainstProtocolFiles(dirname(trainFile), split) };
}

function checkAgainstProtocolFiles(dir: string, split: ProtocolSplit): LoadedSplit["protocolCheck"] {
  const trainPath = join(dir, "protocol_train.tsv");
  const testPath = join(dir, "protocol_test.tsv");
  if (!existsSync(trainPath) || !existsSync(testPath)) return "not checked";
  const same = (a: readonly SessionSequence[], b: readonly SessionSequence[]) =>
    a.length === b.length &&
    a.every((s, k) => s.id === b[k]!.id && s.end === b[k]!.end && s.items.join() === b[k]!.items.join());
  const ok =
    same(split.train, parseProtocolFile(readFileSync(trainPath, "utf8"))) &&
    same(split.test, parseProtocolFile(readFileSync(testPath, "utf8")));
  return ok ? "match" : "mismatch";
}

/** fitSeconds = building the shared session index (done once, counted in every row) + the family's own fit. */
export function evaluateModels(split: ProtocolSplit, models: readonly string[]): SessionsEvalRow[] {
  let started = performance.now();
  const dataset = buildDataset(split.train);
  const indexSeconds = (performance.now() - started) / 1000;
  return models.map((name) => {
    started = performance.now();
    const model = trainRecommender(name, dataset);
    const fitSeconds = indexSeconds + (performance.now() - started) / 1000;
    const metrics = evaluateNextItem(model, split.test);
    return { model: name, ...metrics, fitSeconds, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  });
}

export function resolveModels(option: string | undefined): string[] {
  if (!option || option === "all")
    return [...BASELINES, ...Object.keys(recommenders).filter((m) => !BASELINES.includes(m))];
  const names = option.split(",").map((s) => s.trim());
  const unknown = names.filter((n) => !recommenders[n]);
  if (unknown.length > 0)
    throw new Error(`unknown model(s) ${unknown.join(", ")}; known: ${Object.keys(recommenders).join(", ")}`);
  return names;
}

export function formatTable(rows: readonly SessionsEvalRow[]): string {
  const head = ["model", "HR@10", "MRR@10", "HR@20", "MRR@20", "fit s", "predict ms/ev", "peak RSS MB"];
  const lines = rows.map((r) => [
    r.model,
    r["HR@10"].toFixed(4),
    r["MRR@10"].toFixed(4),
    r["HR@20"].toFixed(4),
    r["MRR@20"].toFixed(4),
    r.fitSeconds.toFixed(2),
    r.predictMsPerEvent.toFixed(4),
    r.peakRssMb.toFixed(0),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
  return [head, ...lines]
    .map((l) => l.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join("  "))
    .join("\n");
}

/** `--dataset rsc15-100k` resolves the raw files in the shared data dir. */
export function datasetFiles(name: string): { train: string; test?: string } {
  const root = sharedDataDir();
  if (!root) throw new Error("shared data dir not found (set LOOPWISE_DATA or create ../shared/data)");
  const dir = join(root, "sessions", name);
  if (name.startsWith("rsc15")) {
    return {
      train: join(dir, "yoochoose-clicks-100k_train_full.txt"),
      test: join(dir, "yoochoose-clicks-100k_test.txt"),
    };
  }
  if (name.startsWith("diginetica")) return { train: join(dir, "sample_train-item-views.csv") };
  throw new Error(`unknown dataset ${name} (rsc15-100k, diginetica-sample)`);
}
