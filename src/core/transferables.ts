/**
 * Every ArrayBuffer under `value` (plain objects, arrays, typed-array views), once: the transfer list for posting a
 * decoded snapshot back from a worker thread, so its arrays move instead of being copied. Views on a
 * SharedArrayBuffer are skipped (shared, never transferred). The caller must own every buffer it finds: a view
 * into Node's Buffer pool would make Node 21+ throw (the pool is untransferable).
 */
export function transferablesOf(value: unknown): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown): void => {
    if (typeof v !== "object" || v === null) return;
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) out.add(v.buffer);
      return;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) visit(child);
  };
  visit(value);
  return [...out];
}
