import { z } from "zod";

const UNITS: Record<string, number> = {
  b: 1,
  kib: 1024,
  k: 1024,
  mib: 1024 ** 2,
  m: 1024 ** 2,
  gib: 1024 ** 3,
  g: 1024 ** 3,
};

/** "1.5GiB", "1536MiB", "2g" or a number of bytes → bytes (binary units; the suffix is case-insensitive). */
export function parseByteSize(value: string | number): number {
  if (typeof value === "number") return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = UNITS[(m?.[2] || "b").toLowerCase()];
  if (!m || unit === undefined) throw new Error(`expected a size such as "1.5GiB", "1536MiB" or bytes, got "${value}"`);
  return Math.round(Number(m[1]) * unit);
}

/** The default memory budget: issue 12's bar for a server at saturation (RSS under 1.5 GiB). */
export const DEFAULT_MEMORY_BUDGET = 1.5 * 1024 ** 3;

const byteSize = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    const bytes = parseByteSize(v);
    if (bytes >= 256 * 1024 ** 2) return bytes;
    ctx.addIssue({ code: "custom", message: `must be at least 256MiB, got ${v}` });
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
  return z.NEVER;
});

/**
 * `memory`: what the server process may take. `budget` (LOOPWISE_MEMORY_BUDGET) steers V8's heap growth so the
 * main heap's reserve stays within its share of it (server/heap-budget.ts); the bounded holders have their own
 * caps (`rewards.maxPendingBytes`, `dashboard.maxTracked`), sized to fit the default.
 */
export const memoryConfigSchema = z
  .object({
    budget: byteSize.default(DEFAULT_MEMORY_BUDGET),
  })
  .prefault({});
