import { runSuites } from "./support/suite-runner.js";

/**
 * `npm run bench [-- NAME...]`: the benchmarks in bench/ (all when no name is given), results in
 * bench/results/NAME.json. Benchmarks compare as ratios within one run: the machines are shared and noisy.
 */
await runSuites(new URL(".", import.meta.url), "bench", process.argv.slice(2));
