import { type Clock, systemClock } from "../../core/clock.js";
import {
  type AppendedEntry,
  type ClaimOptions,
  DEFAULT_READ_COUNT,
  type DecisionStream,
  type DeliveredEntry,
  type ReadOptions,
} from "../../stream/decision-stream.js";
import { partitionKey, partitionOf, type StreamEntry } from "../../stream/stream-entry.js";

/**
 * The in-process decision stream (the embedded default): Redis Streams' consumer-group semantics over arrays,
 * so one process runs the same consumers as a cluster. Entries are kept as objects (no encoding on the hot
 * path); consumers get the stored object, so they must not mutate it or transfer its bytes (a redelivery
 * would see them detached): copy `decision.bytes` before handing it to another thread.
 * Ids are `<ms>-<seq>` like Redis's, from the clock passed in.
 */
export interface MemoryStreamOptions {
  partitions: number;
  clock?: Clock;
}

interface Stored {
  /** Absolute position in the partition (counts trimmed entries too). */
  seq: number;
  id: string;
  entry: StreamEntry;
}

interface Pending {
  seq: number;
  consumer: string;
  deliveredAt: number;
  deliveries: number;
}

interface Group {
  /** Absolute position of the next entry `read` delivers. */
  next: number;
  /** By id; insertion order is id order because `read` delivers in id order and claims keep their key. */
  pending: Map<string, Pending>;
}

class Partition {
  entries: Stored[] = [];
  /** Absolute position of `entries[0]`. */
  base = 0;
  lastMs = -1;
  lastSeq = 0;
  groups = new Map<string, Group>();
  waiters: (() => void)[] = [];

  at(seq: number): Stored | undefined {
    return this.entries[seq - this.base];
  }
  get end(): number {
    return this.base + this.entries.length;
  }
  nextId(now: number): string {
    if (now > this.lastMs) [this.lastMs, this.lastSeq] = [now, 0];
    else this.lastSeq++;
    return `${this.lastMs}-${this.lastSeq}`;
  }
}

export function createMemoryDecisionStream(options: MemoryStreamOptions): DecisionStream {
  return new MemoryDecisionStream(options.partitions, options.clock ?? systemClock);
}

class MemoryDecisionStream implements DecisionStream {
  private readonly parts: Partition[];

  constructor(
    readonly partitions: number,
    private readonly clock: Clock,
  ) {
    this.parts = Array.from({ length: partitions }, () => new Partition());
  }

  async append(entries: readonly StreamEntry[]): Promise<AppendedEntry[]> {
    const now = this.clock.now();
    const out: AppendedEntry[] = [];
    const touched = new Set<Partition>();
    for (const entry of entries) {
      const p = partitionOf(partitionKey(entry), this.partitions);
      const part = this.parts[p]!;
      const id = part.nextId(now);
      part.entries.push({ seq: part.end, id, entry });
      out.push({ partition: p, id });
      touched.add(part);
    }
    for (const part of touched) for (const wake of part.waiters.splice(0)) wake();
    return out;
  }

  async ensureGroup(name: string, from: "start" | "end" = "end"): Promise<void> {
    for (const part of this.parts) {
      if (!part.groups.has(name))
        part.groups.set(name, { next: from === "start" ? part.base : part.end, pending: new Map() });
    }
  }

  async read(name: string, consumer: string, p: number, opts: ReadOptions = {}): Promise<DeliveredEntry[]> {
    const count = opts.count ?? DEFAULT_READ_COUNT;
    const ready = this.readNow(name, consumer, p, count);
    if (ready.length > 0 || !opts.blockMs) return ready;
    await waitForAppend(this.partition(p), opts.blockMs);
    return this.readNow(name, consumer, p, count);
  }

  async ack(name: string, p: number, ids: readonly string[]): Promise<number> {
    const g = this.group(p, name);
    let n = 0;
    for (const id of ids) if (g.pending.delete(id)) n++;
    return n;
  }

  async claim(name: string, consumer: string, p: number, opts: ClaimOptions): Promise<DeliveredEntry[]> {
    const part = this.partition(p);
    const g = this.group(p, name);
    const now = this.clock.now();
    const out: DeliveredEntry[] = [];
    for (const [id, pend] of g.pending) {
      if (out.length >= (opts.count ?? DEFAULT_READ_COUNT)) break;
      if (now - pend.deliveredAt < opts.minIdleMs) continue;
      const s = part.at(pend.seq);
      if (!s) {
        g.pending.delete(id); // trimmed under it: Redis's XAUTOCLAIM drops such ids from the pending list too
        continue;
      }
      Object.assign(pend, { consumer, deliveredAt: now, deliveries: pend.deliveries + 1 });
      out.push({ partition: p, id, entry: s.entry, deliveries: pend.deliveries });
    }
    return out;
  }

  async pendingCount(name: string, p: number): Promise<number> {
    return this.group(p, name).pending.size;
  }

  async commit(name: string, p: number, id: string): Promise<void> {
    const part = this.partition(p);
    // XGROUP SETID: the next entry delivered is the first after `id` (also backwards; pending stays as it is).
    this.group(p, name).next = part.base + lowerBoundAfter(part.entries, id);
  }

  async range(p: number, after: string | undefined, count: number): Promise<DeliveredEntry[]> {
    const part = this.partition(p);
    const i = after === undefined ? 0 : lowerBoundAfter(part.entries, after);
    return part.entries.slice(i, i + count).map((s) => ({ partition: p, id: s.id, entry: s.entry, deliveries: 0 }));
  }

  async trim(p: number): Promise<number> {
    const part = this.partition(p);
    const drop = Math.max(0, lowWaterMark(part) - part.base);
    if (drop === 0) return 0;
    part.entries.splice(0, drop);
    part.base += drop;
    return drop;
  }

  async length(p: number): Promise<number> {
    return this.partition(p).entries.length;
  }

  async close(): Promise<void> {
    for (const part of this.parts) for (const wake of part.waiters.splice(0)) wake();
  }

  private readNow(name: string, consumer: string, p: number, count: number): DeliveredEntry[] {
    const part = this.partition(p);
    const g = this.group(p, name);
    const out: DeliveredEntry[] = [];
    const now = this.clock.now();
    while (out.length < count && g.next < part.end) {
      const s = part.at(g.next)!;
      g.next++;
      g.pending.set(s.id, { seq: s.seq, consumer, deliveredAt: now, deliveries: 1 });
      out.push({ partition: p, id: s.id, entry: s.entry, deliveries: 1 });
    }
    return out;
  }

  private partition(p: number): Partition {
    const found = this.parts[p];
    if (!found) throw new RangeError(`partition ${p} is outside 0..${this.parts.length - 1}`);
    return found;
  }

  private group(p: number, name: string): Group {
    const g = this.partition(p).groups.get(name);
    if (!g) throw new Error(`NOGROUP consumer group ${name} does not exist on partition ${p}`);
    return g;
  }
}

/** The oldest position some group still needs: its oldest pending entry, or the next it would read. */
function lowWaterMark(part: Partition): number {
  if (part.groups.size === 0) return part.base; // nobody declared interest yet: keep everything
  let low = Number.POSITIVE_INFINITY;
  for (const g of part.groups.values()) {
    const oldestPending = g.pending.values().next();
    low = Math.min(low, oldestPending.done ? g.next : oldestPending.value.seq);
  }
  return low;
}

function lowerBoundAfter(entries: Stored[], after: string): number {
  const [ms, seq] = after.split("-").map(Number) as [number, number];
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const [m, s] = entries[mid]!.id.split("-").map(Number) as [number, number];
    if (m < ms || (m === ms && s <= (seq ?? 0))) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function waitForAppend(part: Partition, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      const i = part.waiters.indexOf(done);
      if (i >= 0) part.waiters.splice(i, 1);
      resolve();
    }
    part.waiters.push(done);
  });
}
