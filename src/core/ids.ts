import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32, as ULID

let lastTime = -1;
let lastRandom: number[] = [];

/**
 * ULID-style ids: 48-bit time then 80 random bits, so ids sort by creation time (the decision log's
 * primary key stays append-friendly) and never collide across processes sharing a store. Monotonic
 * within a process (the ULID spec's rule): ids made in the same millisecond increment the random part,
 * so they sort in creation order too.
 */
export function newId(prefix: string, now: number): string {
  let random: number[];
  if (now <= lastTime) {
    random = increment(lastRandom);
  } else {
    lastTime = now;
    const bytes = randomBytes(16);
    random = Array.from(bytes, (b) => b & 31);
    random[0] = (random[0] as number) & 15; // headroom so increments never overflow the 16 digits
  }
  lastRandom = random;
  let time = "";
  let t = Math.max(now, lastTime);
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${time}${random.map((d) => ALPHABET[d]).join("")}`;
}

function increment(digits: number[]): number[] {
  const out = [...digits];
  for (let i = out.length - 1; i >= 0; i--) {
    const d = (out[i] as number) + 1;
    if (d < 32) {
      out[i] = d;
      return out;
    }
    out[i] = 0;
  }
  return out;
}
