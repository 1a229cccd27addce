import { runSuites } from "../bench/support/suite-runner.js";

/**
 * `npm run eval [-- NAME...]`: the evaluations on real data in eval/ (all when no name is given), read from
 * ../shared/data or $LOOPWISE_DATA; results in eval/results/NAME.json.
 */
await runSuites(new URL(".", import.meta.url), "eval", process.argv.slice(2));
