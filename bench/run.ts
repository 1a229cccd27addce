import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * `npm run bench [-- NAME...]`: runs `bench/NAME.bench.ts` (all of them when no name is given). Each
 * bench exports `run(args)` returning a JSON-able result; figures are printed as they are measured and
 * the result is written to `bench/results/NAME.json`. Benchmarks compare as ratios within one run: the
 * machines are shared and noisy.
 */
interface BenchModule {
  run(args: string[]): Promise<Record<string, unknown>>;
}

const dir = fileURLToPath(new URL(".", import.meta.url));
const available = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.replace(/\.bench\.ts$/, ""))
  .sort();
const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith("-"));
const selected = names.length > 0 ? names : available;
const unknown = selected.filter((n) => !available.includes(n));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; available: ${available.join(", ")}`);
  process.exit(2);
}
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
for (const name of selected) {
  console.log(`\n== bench ${name} ==`);
  const mod = (await import(`./${name}.bench.ts`)) as BenchModule;
  const started = Date.now();
  const result = await mod.run(args.filter((a) => a.startsWith("-")));
  const out = { name, startedAt: new Date(started).toISOString(), seconds: (Date.now() - started) / 1000, ...result };
  const path = fileURLToPath(new URL(`./results/${name}.json`, import.meta.url));
  writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${path}`);
}
