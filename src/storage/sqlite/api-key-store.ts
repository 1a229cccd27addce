import { timingSafeEqual } from "node:crypto";
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { type ApiKeyInfo, type ApiKeys, hashSecret, matchKey, newSecret, type Scope } from "../../core/api-key.js";
import { LoopwiseError } from "../../core/errors.js";
import type { SqliteDb } from "./database.js";

interface Row {
  name: string;
  scope: Scope;
  hash: Buffer;
  created_at: number;
  rotated_at: number | null;
}

/** The file beside the decision log that holds the keys (hashes only). */
export const KEYS_FILE = "keys.db";

/**
 * The API keys of one data dir, in their own SQLite file (`<dataDir>/keys.db`) so the CLI can change
 * them while a server runs: the server keeps the table in memory and re-reads it whenever SQLite's
 * `data_version` says another connection committed (one cheap pragma per check), so a created,
 * rotated or revoked key takes effect on the next request without a restart or a file watch.
 * Only SHA-256 hashes of the secrets are stored (core/api-key.ts says why that is enough).
 * The port's changes are async (for PostgreSQL); here they complete synchronously inside the promise.
 */
export class SqliteApiKeyStore implements ApiKeys {
  private readonly db: SqliteDb;
  private readonly dataVersion: Database.Statement;
  private seenVersion = -1;
  private cache: Row[] = [];
  /**
   * Secrets already matched, while the table is unchanged: a request with a known key skips the hash and
   * the comparisons (a visible share of a request's CPU in the HTTP profile). Only matches are kept, so it
   * holds at most one entry a key and unknown secrets cannot grow it; it is emptied whenever the rows are
   * re-read (any change, by this connection or another). A lookup by string reveals nothing an attacker can
   * use: a miss takes the constant-time path below.
   */
  private readonly matched = new Map<string, { name: string; scope: Scope }>();
  /** Keys valid for this process's life only, never written (an engine's generated admin key). */
  private readonly ephemeral: Row[] = [];

  private constructor(db: SqliteDb) {
    this.db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS api_keys (
      name TEXT PRIMARY KEY,
      scope TEXT NOT NULL CHECK (scope IN ('client', 'read', 'admin')),
      hash BLOB NOT NULL UNIQUE,
      created_at INTEGER NOT NULL,
      rotated_at INTEGER
    )`);
    this.dataVersion = db.prepare("PRAGMA data_version").pluck();
  }

  /** `dataDir` ":memory:" keeps the keys in this process only (tests, in-memory engines). */
  static open(dataDir: string): SqliteApiKeyStore {
    if (dataDir === ":memory:") return new SqliteApiKeyStore(new Database(":memory:"));
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, KEYS_FILE);
    const db = new Database(path);
    chmodSync(path, 0o600); // hashes only, but nobody else needs to read them
    db.pragma("journal_mode = WAL");
    db.pragma("busy_timeout = 5000");
    return new SqliteApiKeyStore(db);
  }

  async list(): Promise<ApiKeyInfo[]> {
    return this.rows().map((r) => ({ name: r.name, scope: r.scope, createdAt: r.created_at, rotatedAt: r.rotated_at }));
  }

  /** Creates a key and returns its secret (the only time it is available). */
  async create(name: string, scope: Scope, now = Date.now()): Promise<string> {
    if (this.find(name)) throw new LoopwiseError("CONFLICT", `a key named "${name}" exists; rotate or revoke it`);
    const secret = newSecret(scope);
    this.write(
      "INSERT INTO api_keys (name, scope, hash, created_at) VALUES (?, ?, ?, ?)",
      name,
      scope,
      hashSecret(secret),
      now,
    );
    return secret;
  }

  /** A new secret for the same name and scope; the old one stops working at once. */
  async rotate(name: string, now = Date.now()): Promise<string> {
    const row = this.found(name);
    const secret = newSecret(row.scope);
    this.write("UPDATE api_keys SET hash = ?, rotated_at = ? WHERE name = ?", hashSecret(secret), now, name);
    return secret;
  }

  async revoke(name: string): Promise<void> {
    this.found(name);
    this.write("DELETE FROM api_keys WHERE name = ?", name);
  }

  /** Installs a given secret under a name (the configured or file admin key), replacing what was there. */
  async put(name: string, scope: Scope, secret: string, now = Date.now()): Promise<void> {
    const hash = hashSecret(secret);
    const row = this.find(name);
    if (row && row.scope === scope && timingSafeEqual(row.hash, hash)) return;
    this.db.transaction(() => {
      this.write("DELETE FROM api_keys WHERE name = ? OR hash = ?", name, hash);
      this.write("INSERT INTO api_keys (name, scope, hash, created_at) VALUES (?, ?, ?, ?)", name, scope, hash, now);
    })();
  }

  /** Accepts a secret until this store is closed, without storing it anywhere (not listed either). */
  addEphemeral(name: string, scope: Scope, secret: string): void {
    this.ephemeral.push({ name, scope, hash: hashSecret(secret), created_at: Date.now(), rotated_at: null });
  }

  /** The key a presented secret belongs to (constant time over every key: core/api-key.ts matchKey). */
  lookup(secret: string): { name: string; scope: Scope } | undefined {
    const stored = this.rows(); // first: a change seen here empties `matched`
    const known = this.matched.get(secret);
    if (known) return known;
    const match = matchKey(secret, stored, this.ephemeral);
    if (!match) return undefined;
    const key = Object.freeze({ name: match.name, scope: match.scope });
    this.matched.set(secret, key);
    return key;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private rows(): Row[] {
    const version = this.dataVersion.get() as number;
    if (version !== this.seenVersion) {
      this.cache = this.db.prepare("SELECT * FROM api_keys ORDER BY name").all() as Row[];
      this.seenVersion = version;
      this.matched.clear();
    }
    return this.cache;
  }

  private find(name: string): Row | undefined {
    return this.rows().find((r) => r.name === name);
  }

  private found(name: string): Row {
    const row = this.find(name);
    if (!row) throw new LoopwiseError("NOT_FOUND", `no key named "${name}" (see loopwise keys list)`);
    return row;
  }

  private write(sql: string, ...params: unknown[]): void {
    this.db.prepare(sql).run(...params);
    // data_version does not change for this connection's own commits: re-read on the next use.
    this.seenVersion = -1;
  }
}
