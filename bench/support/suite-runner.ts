import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

interface SuiteModule {
  run(args: string[]): Promise<Record<string, unknown>>;
}

/**
 * Runs `<dir>/NAME.<kind>.ts` for each NAME given (all when none): each exports `run(args)` returning a
 * JSON-able result; figures are printed as they are measured and the result is written to
 * `<dir>/results/NAME.json`. `npm run bench` and `npm run eval` are this runner over bench/ and eval/.
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
  for (const name of selected) {
    console.log(`\n== ${kind} ${name} ==`);
    const mod = (await import(pathToFileURL(join(dir, `${name}${suffix}`)).href)) as SuiteModule;
    const started = Date.now();
    const result = await mod.run(argv.filter((a) => a.startsWith("-")));
    const out = { name, startedAt: new Date(started).toISOString(), seconds: (Date.now() - started) / 1000, ...result };
    const path = join(dir, "results", `${name}.json`);
    writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${path}`);
  }
}
