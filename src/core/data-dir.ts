import { existsSync } from "node:fs";
import { resolve } from "node:path";

/**
 * Where the shared real data sets live: `$LOOPWISE_DATA`, else `../shared/data` from the project root.
 * Returns undefined when absent so tests can say clearly that they skipped.
 */
export function sharedDataDir(): string | undefined {
  const fromEnv = process.env.LOOPWISE_DATA;
  const candidates = [fromEnv, resolve(process.cwd(), "../shared/data")].filter((p): p is string => Boolean(p));
  return candidates.find((p) => existsSync(p));
}
