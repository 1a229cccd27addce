import type { WindowEntry } from "./window-entry.js";

/**
 * What a backend hands `computeFeatures` for one user: the window in time order (oldest first) and the
 * three field maps (see `feature-writes.ts`). Values may be numbers (memory) or their decimal strings
 * (Redis); readers go through `num`/`str` so both give the same answer.
 */
export interface FeatureSnapshot {
  window: readonly WindowEntry[];
  user: FieldSource;
  session: FieldSource;
  windowed: ReadonlyMap<string, string | number>;
}

/** Read access to one field map (a Map satisfies it; the memory backend reads its slab rows through views). */
export interface FieldSource {
  get(field: string): string | number | undefined;
}

export const EMPTY_MAP: ReadonlyMap<string, string | number> = new Map();

export const EMPTY_SNAPSHOT: FeatureSnapshot = { window: [], user: EMPTY_MAP, session: EMPTY_MAP, windowed: EMPTY_MAP };

export function num(m: FieldSource, field: string): number | undefined {
  const v = m.get(field);
  if (v === undefined) return undefined;
  return typeof v === "number" ? v : Number(v);
}

export function str(m: FieldSource, field: string): string | undefined {
  const v = m.get(field);
  return v === undefined ? undefined : String(v);
}
