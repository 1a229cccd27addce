/**
 * The PostgreSQL a bench runs on: LOOPWISE_BENCH_POSTGRES_URL, else the tests' LOOPWISE_TEST_POSTGRES_URL.
 * Without either, says that `what` is skipped and returns undefined.
 */
export function benchPostgresUrl(what: string): string | undefined {
  const url = process.env.LOOPWISE_BENCH_POSTGRES_URL ?? process.env.LOOPWISE_TEST_POSTGRES_URL;
  if (!url) console.log(`${what}: skipped (set LOOPWISE_BENCH_POSTGRES_URL or LOOPWISE_TEST_POSTGRES_URL)`);
  return url;
}
