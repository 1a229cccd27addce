import type { Item } from "../../core/types.js";
import type { Catalog } from "../../events/catalog.js";

/** The catalog held in memory (the rank path reads it synchronously); `persist` makes writes durable. */
export class MemoryCatalog implements Catalog {
  private readonly items = new Map<string, Item>();

  constructor(private readonly persist: (items: readonly Item[]) => Promise<void> = async () => {}) {}

  /** Loads items already durable elsewhere (at start), without persisting them again. */
  load(items: Iterable<Item>): void {
    for (const item of items) this.items.set(item.id, item);
  }

  async upsert(items: readonly Item[]): Promise<void> {
    await this.persist(items);
    for (const item of items) this.items.set(item.id, item);
  }

  get(id: string): Item | undefined {
    return this.items.get(id);
  }

  isAvailable(id: string): boolean {
    return this.items.get(id)?.available ?? false;
  }

  available(limit: number): Item[] {
    const out: Item[] = [];
    for (const item of this.items.values()) {
      if (!item.available) continue;
      out.push(item);
      if (out.length >= limit) break;
    }
    return out;
  }

  size(): number {
    return this.items.size;
  }
}
