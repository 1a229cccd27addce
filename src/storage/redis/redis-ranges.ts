import { randomBytes } from "node:crypto";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Cluster, Redis } from "ioredis";

/**
 * Large values (a learner's full checkpoint, a full policy version: ~35 MB at the default policy's 2,000 arms)
 * written to and read from Redis in ranges of `RANGE_BYTES`, one command each, so no event-loop turn of the
 * process handles more than one range. Why: ioredis builds a command with a Buffer argument by copying all its
 * arguments into one new buffer (`MixedBuffers.toBuffer`), and parses a bulk reply by joining its chunks into one:
 * a 35 MB fenced write held a worker's loop 105-115 ms of CPU and a fenced read (a standby taking over) 240-250 ms
 * (probe on this 2-core machine, load ~7), where its lease renewals must run.
 *
 * A staged value is written to a key of its own beside the destination (same hash tag: one Cluster slot), sized
 * once (`SETRANGE` at its last byte: one allocation in Redis, then every range written in place), with an expiry,
 * and only then moved over the destination by the caller's script (`RENAME` in the script that checks the fence):
 * readers see the old value or the new one whole; a writer that dies midway leaves a staging key that expires.
 */
export const RANGE_BYTES = 1024 * 1024;

/** How long an abandoned staging key lives: far longer than writing ~35 ranges takes. */
const STAGING_TTL_MS = 10 * 60_000;

/** A fresh staging key under `tagged` (a key with the destination's hash tag). */
export function stagingKey(tagged: string): string {
  return `${tagged}:staging:${randomBytes(8).toString("hex")}`;
}

/** Writes `value` to `key` (fresh, expiring) one range per command. */
export async function writeStaged(client: Redis | Cluster, key: string, value: Uint8Array): Promise<void> {
  // Created with its expiry in one command (a writer dying right after leaves nothing for good), then sized once:
  // ranges are written in place (APPEND would grow and move the string ~35 times). SETRANGE keeps the expiry.
  await client.set(key, Buffer.alloc(1), "PX", STAGING_TTL_MS);
  await client.setrange(key, value.byteLength - 1, Buffer.alloc(1));
  for (let at = 0; at < value.byteLength; at += RANGE_BYTES) {
    const end = Math.min(value.byteLength, at + RANGE_BYTES);
    await client.setrange(key, at, Buffer.from(value.buffer, value.byteOffset + at, end - at));
  }
}

/**
 * `key`'s value read as ranges into one buffer, or undefined when the key does not exist. The ranges are read in
 * one MULTI with the length (a value replaced meanwhile by a writer's RENAME is read whole, old or new, never
 * mixed; a length that changed since it was asked is read again); ioredis parses each range's reply on its own,
 * and the ranges are copied into the buffer a few per event-loop turn.
 */
export async function readInRanges(client: Redis | Cluster, key: string): Promise<Uint8Array | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const size = await client.strlen(key);
    if (size === 0) return undefined; // missing (these stores never write an empty value)
    if (size <= RANGE_BYTES) {
      const whole = await client.getBuffer(key);
      return whole === null ? undefined : new Uint8Array(whole); // a copy owning its buffer, as before
    }
    const tx = client.multi().strlen(key);
    for (let at = 0; at < size; at += RANGE_BYTES) tx.getrangeBuffer(key, at, Math.min(size, at + RANGE_BYTES) - 1);
    const replies = (await tx.exec()) ?? [];
    if (replies.some(([error]) => error) || replies[0]?.[1] !== size) continue;
    const out = new Uint8Array(size);
    for (let i = 1, at = 0; i < replies.length; i++) {
      const range = replies[i]![1] as Buffer;
      out.set(range, at);
      at += range.byteLength;
      if (i % RANGES_PER_TURN === 0) await nextTurn();
    }
    return out;
  }
  throw new Error(`redis ${key}: the value kept changing while it was read in ranges`);
}

/** Ranges copied per event-loop turn when a read is assembled (1 MiB each: ~1 ms a few on this machine). */
const RANGES_PER_TURN = 4;
