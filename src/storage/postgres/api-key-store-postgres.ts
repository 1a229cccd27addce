import { timingSafeEqual } from "node:crypto";
import {
  type ApiKeyInfo,
  type ApiKeys,
  hashSecret,
  matchKey,
  newSecret,
  type Scope,
  type StoredKey,
} from "../../core/api-key.js";
import { LoopwiseError } from "../../core/errors.js";
import { migrate } from "./migrations.js";
import { createPool, type PgPool, type PostgresOptions, query } from "./pool.js";

/** PostgreSQL's SQLSTATE for a unique index violation. */
const UNIQUE_VIOLATION = "23505";

interface Row {
  name: string;
  scope: Scope;
  hash: Buffer;
  created_at: number;
  rotated_at: number | null;
}

/** How long a node trusts its copy of the key table: a change on another node holds here within this. */
export const KEY_CACHE_MS = 5000;

/**
 * The API keys of a deployment in PostgreSQL (table `api_keys`, migration 6), shared by every API node and
 * the CLI. Only SHA-256 hashes are stored (core/api-key.ts says why that is enough).
 *
 * Every request checks its key, so `lookup` never waits on the network: it answers from an in-memory copy of
 * the table (a deployment has tens of keys, not millions). The copy is re-read every `cacheMs` (5 s) on an
 * unref'd timer, and at once after this node's own changes; a key created, rotated or revoked on another node
 * or with the CLI therefore takes effect here within `cacheMs` plus one query. When PostgreSQL is down the
 * last copy keeps answering (rank keeps serving), and the next refresh catches up.
 */
export class PostgresApiKeyStore implements ApiKeys {
  private cache: StoredKey[] = [];
  private readonly ephemeral: StoredKey[] = [];
  private readonly timer: NodeJS.Timeout;
  private refreshing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly pool: PgPool,
    cacheMs: number,
  ) {
    this.timer = setInterval(() => void this.refresh().catch(() => {}), cacheMs);
    this.timer.unref();
  }

  /** Its own small pool (keys are opened before the engine and by the CLI); migrates the schema first. */
  static async open(options: PostgresOptions & { cacheMs?: number }): Promise<PostgresApiKeyStore> {
    const { pool, schema } = createPool({ max: 2, ...options });
    try {
      await migrate(pool, schema);
      const store = new PostgresApiKeyStore(pool, options.cacheMs ?? KEY_CACHE_MS);
      await store.refresh();
      return store;
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  /** Re-reads the table now (also what the timer does). Concurrent calls share one query. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const { rows } = await query<StoredKey>(this.pool, "SELECT name, scope, hash FROM api_keys ORDER BY name");
        this.cache = rows;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  async list(): Promise<ApiKeyInfo[]> {
    const { rows } = await query<Row>(this.pool, "SELECT * FROM api_keys ORDER BY name");
    return rows.map((r) => ({ name: r.name, scope: r.scope, createdAt: r.created_at, rotatedAt: r.rotated_at }));
  }

  /** Creates a key and returns its secret (the only time it is available); a taken name is a CONFLICT. */
  async create(name: string, scope: Scope, now = Date.now()): Promise<string> {
    const secret = newSecret(scope);
    const { rowCount } = await query(
      this.pool,
      "INSERT INTO api_keys (name, scope, hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
      [name, scope, hashSecret(secret), now],
    );
    if (rowCount === 0) throw new LoopwiseError("CONFLICT", `a key named "${name}" exists; rotate or revoke it`);
    await this.refresh();
    return secret;
  }

  /** A new secret for the same name and scope; the old one stops working (on other nodes within cacheMs). */
  async rotate(name: string, now = Date.now()): Promise<string> {
    const { rows } = await query<{ scope: Scope }>(this.pool, "SELECT scope FROM api_keys WHERE name = $1", [name]);
    const scope = rows[0]?.scope ?? notFound(name);
    const secret = newSecret(scope);
    const updated = await query(this.pool, "UPDATE api_keys SET hash = $1, rotated_at = $2 WHERE name = $3", [
      hashSecret(secret),
      now,
      name,
    ]);
    if (updated.rowCount === 0) notFound(name); // revoked between the two statements
    await this.refresh();
    return secret;
  }

  async revoke(name: string): Promise<void> {
    const { rowCount } = await query(this.pool, "DELETE FROM api_keys WHERE name = $1", [name]);
    if (rowCount === 0) notFound(name);
    await this.refresh();
  }

  /**
   * Installs a given secret under a name, replacing what was there. Several nodes starting together all
   * install the configured admin key: an upsert on the name (after dropping another name holding the same
   * hash). Two nodes inserting the same new row at once can still collide on the hash's unique index, which
   * ON CONFLICT (name) does not arbitrate (PostgreSQL takes one arbiter): the loser retries, and then finds the
   * winner's row under the name, which is the same key (a no-op).
   */
  async put(name: string, scope: Scope, secret: string, now = Date.now()): Promise<void> {
    const hash = hashSecret(secret);
    const held = this.cache.find((r) => r.name === name);
    if (held && held.scope === scope && timingSafeEqual(held.hash, hash)) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.upsert(name, scope, hash, now);
        break;
      } catch (error) {
        if (attempt >= 3 || (error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
      }
    }
    await this.refresh();
  }

  private async upsert(name: string, scope: Scope, hash: Buffer, now: number): Promise<void> {
    await query(this.pool, "DELETE FROM api_keys WHERE hash = $1 AND name <> $2", [hash, name]);
    await query(
      this.pool,
      `INSERT INTO api_keys (name, scope, hash, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET scope = EXCLUDED.scope, hash = EXCLUDED.hash,
         created_at = EXCLUDED.created_at, rotated_at = NULL
       WHERE api_keys.hash <> EXCLUDED.hash OR api_keys.scope <> EXCLUDED.scope`,
      [name, scope, hash, now],
    );
  }

  /** Accepts a secret until this store is closed, without storing it anywhere (not listed either). */
  addEphemeral(name: string, scope: Scope, secret: string): void {
    this.ephemeral.push({ name, scope, hash: hashSecret(secret) });
  }

  /** The key a presented secret belongs to, from this node's copy (constant time: core/api-key.ts matchKey). */
  lookup(secret: string): { name: string; scope: Scope } | undefined {
    return matchKey(secret, this.cache, this.ephemeral);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.refreshing?.catch(() => {});
    await this.pool.end();
  }
}

function notFound(name: string): never {
  throw new LoopwiseError("NOT_FOUND", `no key named "${name}" (see loopwise keys list)`);
}
