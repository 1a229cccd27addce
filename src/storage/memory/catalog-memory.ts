import type { FeatureMap, Item } from "../../core/types.js";
import type { Catalog } from "../../events/catalog.js";
import { itemFeatures } from "../../events/event-schema.js";

/**
 * An item with its candidate features, built once when the item is stored: rank looks both up with one Map
 * lookup per candidate, and every request shares one features object per item version (the bandit encoder
 * caches its hashed block on that object's identity). null: the item has no features.
 */
interface CatalogEntry {
  item: Item;
  features: FeatureMap | null;
}

/** The catalog held in memory (the rank path reads it synchronously); `persist` makes writes durable. */
export class MemoryCatalog implements Catalog {
  private readonly entries = new Map<string, CatalogEntry>();

  constructor(private readonly persist: (items: readonly Item[]) => Promise<void> = async () => {}) {}

  /** Loads items already durable elsewhere (at start), without persisting them again. */
  load(items: Iterable<Item>): void {
    for (const item of items) this.store(item);
  }

  async upsert(items: readonly Item[]): Promise<void> {
    await this.persist(items);
    for (const item of items) this.store(item);
  }

  private store(item: Item): void {
    const features = itemFeatures(item);
    this.entries.set(item.id, { item, features: hasKeys(features) ? features : null });
  }

  get(id: string): Item | undefined {
    return this.entries.get(id)?.item;
  }

  features(id: string): FeatureMap | undefined {
    return this.entries.get(id)?.features ?? undefined;
  }

  isAvailable(id: string): boolean {
    return this.entries.get(id)?.item.available ?? false;
  }

  available(limit: number): Item[] {
    const out: Item[] = [];
    for (const { item } of this.entries.values()) {
      if (!item.available) continue;
      out.push(item);
      if (out.length >= limit) break;
    }
    return out;
  }

  size(): number {
    return this.entries.size;
  }
}

function hasKeys(map: FeatureMap): boolean {
  for (const _ in map) return true;
  return false;
}
