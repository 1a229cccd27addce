import type { Item } from "../../core/types.js";
import { MemoryCatalog } from "../memory/catalog-memory.js";
import { query } from "./pool.js";
import type { PostgresConnection } from "./postgres-store.js";

/** The catalog: served from memory, written through the log writer to PostgreSQL, loaded from it at start. */
export async function openPostgresCatalog(store: PostgresConnection): Promise<MemoryCatalog> {
  const catalog = new MemoryCatalog((items) => store.writer.write({ kind: "items", items: [...items] }));
  const { rows } = await query<{ body: string }>(store.pool, "SELECT body FROM items ORDER BY seq");
  catalog.load(rows.map((r) => JSON.parse(r.body) as Item));
  return catalog;
}
