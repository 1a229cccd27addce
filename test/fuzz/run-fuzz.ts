import { parseArgs } from "node:util";
import { closeHarness, fuzzApi, openHarness } from "./api-fuzz.js";

/**
 * Long mode of the API fuzz suite: `npm run fuzz -- --runs 20000 [--seed N]`. Prints the counts of
 * responses by status and by route; exits non-zero on the first request that breaks a property.
 */
const { values } = parseArgs({
  options: { runs: { type: "string", default: "20000" }, seed: { type: "string", default: String(Date.now() % 1e9) } },
});
const runs = Number(values.runs);
const seed = Number(values.seed);
const harness = await openHarness();
const started = performance.now();
try {
  const report = await fuzzApi(harness, { runs, seed });
  const seconds = (performance.now() - started) / 1000;
  console.log(`fuzz: ${report.requests} requests, seed ${seed}, ${seconds.toFixed(1)} s, no property broken`);
  console.log("responses by status:");
  for (const [status, n] of Object.entries(report.byStatus).sort()) console.log(`  ${status}  ${n}`);
  console.log("requests by route:");
  for (const [route, n] of Object.entries(report.byRoute).sort()) console.log(`  ${route.padEnd(48)} ${n}`);
} catch (error) {
  console.error(`fuzz: property broken (seed ${seed}):`, (error as Error).message, (error as Error).cause);
  process.exitCode = 1;
} finally {
  await closeHarness(harness);
}
