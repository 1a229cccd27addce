import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

interface SuiteModule {
  run(args: string[]): Promise<Record<string, unknown>>;
}

/** A pass/fail criterion a suite checked (evaluations keep the criteria that are too long for `npm test`). */
export interface Criterion {
  name: string;
  pass: boolean;
  /** What was measured, in words and figures. */
  measured: string;
}

/**
 * Runs `<dir>/NAME.<kind>.ts` for each NAME given (all when none): each exports `run(args)` returning a
 * JSON-able result; figures are printed as they are measured and the result is written to
 * `<dir>/results/NAME.json`. `npm run bench` and `npm run eval` are this runner over bench/ and eval/.
 * A suite may return `criteria` (Criterion[]): each is printed as PASS or FAIL, and any FAIL makes the
 * process exit non-zero, so `npm run eval -- NAME` is a check a person or a scheduled job can run.
 */
export async function runSuites(dirUrl: URL, kind: "bench" | "eval", argv: string[]): Promise<void> {
  const dir = fileURLToPath(dirUrl);
  const suffix = `.${kind}.ts`;
  const available = readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .map((f) => f.slice(0, -suffix.length))
    .sort();
  const names = argv.filter((a) => !a.startsWith("-"));
  const selected = names.length > 0 ? names : available;
  const unknown = selected.filter((n) => !available.includes(n));
  if (unknown.length > 0) {
    console.error(`unknown ${kind}(s): ${unknown.join(", ")}; available: ${available.join(", ")}`);
    process.exit(2);
  }
  mkdirSync(join(dir, "results"), { recursive: true });
  let failed = 0;
  for (const name of selected) {
    console.log(`\n== ${kind} ${name} ==`);
    const mod = (await import(pathToFileURL(join(dir, `${name}${suffix}`)).href)) as SuiteModule;
    const started = Date.now();
    const result = await mod.run(argv.filter((a) => a.startsWith("-")));
    const out = { name, startedAt: new Date(started).toISOString(), seconds: (Date.now() - started) / 1000, ...result };
    const path = join(dir, "results", `${name}.json`);
    writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${path}`);
    failed += reportCriteria(name, result.criteria);
  }
  if (failed > 0) {
    console.error(`${failed} criterion(s) failed`);
    process.exitCode = 1;
  }
}

function reportCriteria(suite: string, criteria: unknown): number {
  if (!Array.isArray(criteria)) return 0;
  let failed = 0;
  for (const c of criteria as Criterion[]) {
    console.log(`${c.pass ? "PASS" : "FAIL"} ${suite}: ${c.name} (${c.measured})`);
    if (!c.pass) failed++;
  }
  return failed;
}
