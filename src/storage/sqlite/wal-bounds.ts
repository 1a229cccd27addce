import type Database from "better-sqlite3";
import { WAL_FLOOR_BYTES } from "./wal-shrink.js";

/**
 * Bounds what SQLite holds for a connection, so a long run at saturation stays flat (issue 12's soak):
 * the WAL is checkpointed every 1,000 pages (SQLite's default, made explicit) and truncated back to
 * `journal_size_limit` after each checkpoint that reset it (without the limit a WAL that once grew, e.g.
 * while a long read held a snapshot, keeps its size on disk; https://www.sqlite.org/pragma.html#pragma_journal_size_limit);
 * the page cache is at most 8 MiB per connection (https://www.sqlite.org/pragma.html#pragma_cache_size).
 * `checkpoints: "elsewhere"` turns the automatic checkpoint off, for a connection whose WAL a thread of its own
 * checkpoints (wal-checkpointer.ts: the log writer's thread, and the main thread's connection beside it, wal-watch.ts);
 * such a connection never truncates the WAL either (`journal_size_limit = -1`): the log writer's thread shrinks it a
 * step at a time (wal-shrink.ts), since one truncate of the whole excess TRIMs hundreds of MiB inside a commit.
 */
export function boundWal(db: Database.Database, checkpoints: "automatic" | "elsewhere" = "automatic"): void {
  db.pragma(`wal_autocheckpoint = ${checkpoints === "automatic" ? 1000 : 0}`);
  db.pragma(`journal_size_limit = ${checkpoints === "automatic" ? WAL_FLOOR_BYTES : -1}`);
  db.pragma("cache_size = -8192");
}
