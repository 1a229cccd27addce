import type { Item } from "../../core/types.js";
import { MemoryCatalog } from "../memory/catalog-memory.js";
import type { SqliteStore } from "./database.js";

/** The catalog: served from memory, written through the log writer to SQLite, loaded from it at start. */
export function openSqliteCatalog(store: SqliteStore): MemoryCatalog {
  const catalog = new MemoryCatalog((items) => store.writer.write({ kind: "items", items: [...items] }));
  const rows = store.db.prepare("SELECT body FROM items ORDER BY rowid").pluck().all() as string[];
  catalog.load(rows.map((body) => JSON.parse(body) as Item));
  return catalog;
}
