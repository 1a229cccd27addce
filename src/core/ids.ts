import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32, as ULID

/** 40 random bits per process (8 digits): ids of two processes, or of one process before and after a restart, differ. */
const PROCESS_DIGITS = 8;
/** A 40-bit counter (8 digits) after it, starting at a random value below 2^39 (headroom: it never wraps). */
const COUNTER_DIGITS = 8;
const COUNTER_SPAN = 2 ** 40;

function randomDigits(count: number): string {
  return Array.from(randomBytes(count), (b) => ALPHABET[b & 31]).join("");
}

const processPart = randomDigits(PROCESS_DIGITS);
let counter = Number.parseInt(randomBytes(5).toString("hex"), 16) % (COUNTER_SPAN / 2);
let lastTime = -1;
let timePart = "";

/**
 * ULID-shaped ids (26 Crockford base32 digits): 48-bit time, then 40 random bits fixed per process, then a
 * 40-bit counter. Ids sort by creation time (the decision log's primary key stays append-friendly), and
 * within a process in creation order even within one millisecond or when the clock steps back (the time
 * part never decreases). Unique across processes and restarts by the random process part (a collision
 * needs two processes to draw the same 40 bits and overlap in counter and millisecond); no random bytes
 * per id, and the time digits are encoded once per millisecond.
 */
export function newId(prefix: string, now: number): string {
  if (now > lastTime) {
    lastTime = now;
    timePart = encode(now, 10);
  }
  counter = counter + 1 === COUNTER_SPAN ? 0 : counter + 1;
  return `${prefix}_${timePart}${processPart}${encode(counter, COUNTER_DIGITS)}`;
}

function encode(value: number, digits: number): string {
  let out = "";
  let v = value;
  for (let i = 0; i < digits; i++) {
    out = ALPHABET[v % 32] + out;
    v = Math.floor(v / 32);
  }
  return out;
}
