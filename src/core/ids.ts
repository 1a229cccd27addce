import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32, as ULID

/**
 * ULID-style ids: 48-bit time then 80 random bits, so ids sort by creation time (the decision log's
 * primary key stays append-friendly) and never collide across processes sharing a store.
 */
export function newId(prefix: string, now: number): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(10);
  let rand = "";
  for (let i = 0; i < 16; i++) {
    const bit = i * 5;
    const byte = bit >> 3;
    const v = (((bytes[byte] ?? 0) << 8) | (bytes[byte + 1] ?? 0)) >> (11 - (bit & 7));
    rand += ALPHABET[v & 31];
  }
  return `${prefix}_${time}${rand}`;
}
