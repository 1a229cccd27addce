import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";

import { type Requirement, SCOPES, type Scope } from "./scopes.js";

export { type Requirement, SCOPES, type Scope };

export const scopeSchema = z.enum(SCOPES);
export const keyNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "1-64 characters of letters, digits, _ . -");

/** An admin key may do everything; the other scopes only what they name. */
export function grants(scope: Scope, need: Requirement): boolean {
  if (need === "public" || need === "any") return true;
  return scope === "admin" || scope === need;
}

/**
 * A new secret: 32 random bytes (256 bits), prefixed with the scope so a leaked key is recognisable
 * (secret scanners, logs) without looking it up.
 */
export function newSecret(scope: Scope): string {
  return `lw_${scope}_${randomBytes(32).toString("base64url")}`;
}

/**
 * What is stored for a key: SHA-256 of the secret. A slow KDF (scrypt, argon2) protects low-entropy
 * passwords against guessing after a leak of the hashes; these secrets carry 256 random bits, so a
 * fast hash is already infeasible to invert, and checking a key on every request costs microseconds.
 */
export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

/** A key's public facts (never its secret). */
export interface ApiKeyInfo {
  name: string;
  scope: Scope;
  createdAt: number;
  rotatedAt: number | null;
}

/** A stored key as both adapters keep it in memory for `lookup`: the hash, never the secret. */
export interface StoredKey {
  name: string;
  scope: Scope;
  hash: Buffer;
}

/**
 * The key a presented secret belongs to, among `sets` of stored keys. Every hash is compared with
 * timingSafeEqual and the loop never stops early, so the time taken does not depend on which key (if any)
 * matched.
 */
export function matchKey(secret: string, ...sets: readonly StoredKey[][]): { name: string; scope: Scope } | undefined {
  const given = hashSecret(secret);
  let match: StoredKey | undefined;
  for (const rows of sets) for (const row of rows) if (timingSafeEqual(row.hash, given)) match = row;
  return match ? { name: match.name, scope: match.scope } : undefined;
}

/**
 * The port: the API keys of one install. Secrets go in (create/rotate return a new one once) and are checked
 * by `lookup`; only hashes are kept. Changes are async (PostgreSQL); `lookup` is synchronous on every request,
 * answered from the adapter's in-memory table (SQLite re-reads it when another connection committed;
 * PostgreSQL refreshes it every few seconds, so a change made on one node reaches the others within that).
 * Adapters: storage/sqlite/api-key-store.ts, storage/postgres/api-key-store-postgres.ts.
 */
export interface ApiKeys {
  list(): Promise<ApiKeyInfo[]>;
  create(name: string, scope: Scope, now?: number): Promise<string>;
  rotate(name: string, now?: number): Promise<string>;
  revoke(name: string): Promise<void>;
  /** Installs a given secret under a name, replacing what was there (the configured admin key). */
  put(name: string, scope: Scope, secret: string, now?: number): Promise<void>;
  /** Accepts a secret for this process's life only, never stored nor listed. */
  addEphemeral(name: string, scope: Scope, secret: string): void;
  lookup(secret: string): { name: string; scope: Scope } | undefined;
  close(): Promise<void>;
}
