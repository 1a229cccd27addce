import type { FeatureMap, Item } from "../core/types.js";

/**
 * The item catalog port. Reads are synchronous and in memory (the catalog is on the rank path);
 * writes are durable once `upsert` resolves.
 */
export interface Catalog {
  upsert(items: readonly Item[]): Promise<void>;
  get(id: string): Item | undefined;
  /**
   * The features a candidate of this item carries (`itemFeatures`: its own, category and price): one object per
   * item version, shared by every request until the item is upserted again; undefined for an unknown item or
   * one without features. Never mutate it.
   */
  features(id: string): FeatureMap | undefined;
  isAvailable(id: string): boolean;
  /** Available items, in insertion order, at most `limit`. */
  available(limit: number): Item[];
  size(): number;
}
