import type Database from "better-sqlite3";

/**
 * Bounds what SQLite holds for a connection, so a long run at saturation stays flat (issue 12's soak):
 * the WAL is checkpointed every 1,000 pages (SQLite's default, made explicit) and truncated back to
 * `journal_size_limit` after each checkpoint that reset it (without the limit a WAL that once grew, e.g.
 * while a long read held a snapshot, keeps its size on disk; https://www.sqlite.org/pragma.html#pragma_journal_size_limit);
 * the page cache is at most 8 MiB per connection (https://www.sqlite.org/pragma.html#pragma_cache_size).
 */
export function boundWal(db: Database.Database): void {
  db.pragma("wal_autocheckpoint = 1000");
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  db.pragma("cache_size = -8192");
}
