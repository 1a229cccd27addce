import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * `npm run eval [-- NAME...]`: runs `eval/NAME.eval.ts` (all of them when no name is given). Each
 * eval exports `run(args)` returning a JSON-able result; figures are printed as they are measured and
 * the result is written to `eval/results/NAME.json`. Evaluations read real data from ../shared/data or $LOOPWISE_DATA.
 *
 */
interface BenchModule {
  run(args: string[]): Promise<Record<string, unknown>>;
}

const dir = fileURLToPath(new URL(".", import.meta.url));
const available = readdirSync(dir)
  .filter((f) => f.endsWith(".eval.ts"))
  .map((f) => f.replace(/\.eval\.ts$/, ""))
  .sort();
const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith("-"));
const selected = names.length > 0 ? names : available;
const unknown = selected.filter((n) => !available.includes(n));
if (unknown.length > 0) {
  console.error(`unknown evalmark(s): ${unknown.join(", ")}; available: ${available.join(", ")}`);
  process.exit(2);
}
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
for (const name of selected) {
  console.log(`\n== eval ${name} ==`);
  const mod = (await import(`./${name}.eval.ts`)) as BenchModule;
  const started = Date.now();
  const result = await mod.run(args.filter((a) => a.startsWith("-")));
  const out = { name, startedAt: new Date(started).toISOString(), seconds: (Date.now() - started) / 1000, ...result };
  const path = fileURLToPath(new URL(`./results/${name}.json`, import.meta.url));
  writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${path}`);
}
