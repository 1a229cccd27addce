import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { GroupCommitter } from "./group-commit.js";

export type SqliteDb = Database.Database;

export interface OpenOptions {
  /** `process`: durable against a process crash (WAL + synchronous=NORMAL); `fsync`: against power loss too. */
  durability?: "process" | "fsync";
}

/**
 * A store's database: its own file (opened here in WAL mode; `owned`, so the store closes it) or an open
 * connection shared with other stores (the store leaves it open).
 */
export function ownOrShare(pathOrDb: string | SqliteDb): { db: SqliteDb; owned: boolean } {
  if (typeof pathOrDb !== "string") return { db: pathOrDb, owned: false };
  const db = new Database(pathOrDb);
  db.pragma("journal_mode = WAL");
  return { db, owned: true };
}

/**
 * One SQLite database file shared by the stores of one process: one connection, one group committer,
 * so every acknowledged write of a tick (events, decisions, rewards) lands in one transaction.
 * `path` ":memory:" gives a private in-memory database (tests, fast simulations).
 */
export class SqliteStore {
  readonly db: SqliteDb;
  readonly committer: GroupCommitter;

  constructor(path: string, options: OpenOptions = {}) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    // WAL + NORMAL: a committed transaction is in the WAL file (written, not fsynced) when commit returns,
    // so it survives a crash of this process; only an OS crash or power loss can lose the last commits.
    this.db.pragma(`synchronous = ${options.durability === "fsync" ? "FULL" : "NORMAL"}`);
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("foreign_keys = ON");
    this.committer = new GroupCommitter(this.db);
  }

  /** Idempotent schema creation for one store. */
  migrate(sql: string): void {
    this.db.exec(sql);
  }

  async close(): Promise<void> {
    await this.committer.drain();
    if (this.db.open) this.db.close();
  }
}
