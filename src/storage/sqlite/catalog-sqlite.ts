import type { Item } from "../../core/types.js";
import { MemoryCatalog } from "../memory/catalog-memory.js";
import type { SqliteStore } from "./database.js";

const SCHEMA = `CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, updated_at INTEGER NOT NULL, body TEXT NOT NULL);`;

/** The catalog: served from memory, written through to SQLite, loaded from it at start. */
export function openSqliteCatalog(store: SqliteStore): MemoryCatalog {
  store.migrate(SCHEMA);
  const upsert = store.db.prepare(
    "INSERT INTO items (id, updated_at, body) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body",
  );
  const catalog = new MemoryCatalog((items) =>
    store.committer.write(() => {
      for (const item of items) upsert.run(item.id, item.updatedAt, JSON.stringify(item));
    }),
  );
  const rows = store.db.prepare("SELECT body FROM items ORDER BY rowid").pluck().all() as string[];
  catalog.load(rows.map((body) => JSON.parse(body) as Item));
  return catalog;
}
