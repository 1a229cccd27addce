import type { Item } from "../core/types.js";

/**
 * The item catalog port. Reads are synchronous and in memory (the catalog is on the rank path);
 * writes are durable once `upsert` resolves.
 */
export interface Catalog {
  upsert(items: readonly Item[]): Promise<void>;
  get(id: string): Item | undefined;
  isAvailable(id: string): boolean;
  /** Available items, in insertion order, at most `limit`. */
  available(limit: number): Item[];
  size(): number;
}
