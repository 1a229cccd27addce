import type { WireResult } from "./log-ops.js";

/**
 * Shared memory between the log writer's two threads (log-writer.ts and log-writer-worker.ts): a doorbell the
 * main thread rings after posting ops, and a ring of the common results (an op id and a small code) the writer
 * thread fills after each commit. Why not only messages: every MessagePort message costs a serialization, a
 * libuv wake-up, a deserialization and an event dispatch on the receiving thread (~25 µs of CPU per round trip
 * on the main thread and as much on the writer's, measured in `npm run bench -- log-writer`); the writer
 * thread waits in `Atomics.wait` and takes its ops with `receiveMessageOnPort` (no event loop turn), and the
 * main thread reads a decision's or reward's result from the ring when `Atomics.waitAsync` wakes it.
 * Results the ring cannot code (errors, events' indices, retention steps) still come back as messages.
 *
 * Counters are Int32 and wrap (`| 0`); the capacity is a power of two, so a counter's slot runs on across the
 * wrap, and it is at least the main thread's queue bound, so fewer than `capacity` results are ever unread.
 */
const DOORBELL = 0;
const RESULTS_WRITTEN = 1;
/** Batches committed (the writer's stats). */
const COMMITS = 2;
/** 1 while the writer thread sleeps (or is about to) in `waitUnless`: only then does a ring notify. */
const SLEEPING = 3;
/** 1 while the writer thread waits out its group commit delay (`linger`): a ring that ends it notifies. */
const LINGERING = 4;
/** Rings that end a group commit delay (`ring(true)`), counted apart from the doorbell, which any post rings. */
const URGENT = 5;
const CONTROL_SLOTS = 6;

/**
 * An events op whose every event was inserted (its result is [0, 1, ..., n-1], the common case): the main end
 * rebuilds the indices from the op's size, so a batch of events is acknowledged through the ring, not by a
 * message (~25 µs of CPU on each thread, a third of the writer's per-batch work besides SQLite).
 */
export const ALL_INSERTED: unique symbol = Symbol("every event inserted");

/** Result codes the ring carries: ok with one of these values. */
const CODED_VALUES: readonly unknown[] = [
  undefined,
  true,
  false,
  "accepted",
  "late",
  "duplicate",
  "not_activated",
  ALL_INSERTED,
];
const ALL_INSERTED_CODE = CODED_VALUES.indexOf(ALL_INSERTED);

export interface WriterChannelBuffers {
  control: SharedArrayBuffer;
  ids: SharedArrayBuffer;
  codes: SharedArrayBuffer;
}

/** Buffers for at least `maxUnread` unread results (the writer's queue bound). */
export function createChannelBuffers(maxUnread: number): WriterChannelBuffers {
  const capacity = 2 ** Math.ceil(Math.log2(Math.max(2, maxUnread)));
  return {
    control: new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT),
    ids: new SharedArrayBuffer(capacity * Float64Array.BYTES_PER_ELEMENT),
    codes: new SharedArrayBuffer(capacity),
  };
}

/**
 * The ring's code of a result, or -1 when it must travel as a message. `events` (≥ 0): the result is the
 * inserted indices of an events op of that many events, coded when they are all of them.
 */
export function resultCode(result: WireResult, events = -1): number {
  if (!result.ok) return -1;
  if (events < 0) return CODED_VALUES.indexOf(result.value);
  const indices = result.value as readonly number[];
  if (indices.length !== events) return -1;
  for (let i = 0; i < events; i++) if (indices[i] !== i) return -1;
  return ALL_INSERTED_CODE;
}

class ChannelView {
  protected readonly control: Int32Array;
  protected readonly ids: Float64Array;
  protected readonly codes: Uint8Array;
  protected readonly capacity: number;

  constructor(buffers: WriterChannelBuffers) {
    this.control = new Int32Array(buffers.control);
    this.ids = new Float64Array(buffers.ids);
    this.codes = new Uint8Array(buffers.codes);
    this.capacity = this.ids.length;
  }
}

/** ES2024's `Atomics.waitAsync` (the project's `lib` is ES2023; V8 in Node 20 has it). */
interface AtomicsWaitAsync {
  waitAsync(
    array: Int32Array,
    index: number,
    value: number,
  ): { async: false; value: string } | { async: true; value: Promise<string> };
}

/** The main thread's end: rings the doorbell, reads results. */
export class ChannelMainEnd extends ChannelView {
  private read = 0;

  /**
   * After posting ops (or close): wakes the writer thread if it sleeps; true when it notified. A busy writer
   * takes the ops after its batch without a wake-up (a futex wake is a syscall, and on 2 cores the woken
   * thread preempts this one). No wake-up is lost: the writer marks itself sleeping before it compares the
   * doorbell, this end bumps the doorbell before it reads the mark, and Atomics are sequentially
   * consistent, so either the writer's wait sees the new count or this end sees the mark. `endLinger` false
   * leaves a writer waiting out its group commit delay to take the ops when the delay ends; true ends the delay
   * (the same argument, with the urgent count and the lingering mark).
   */
  ring(endLinger = true): boolean {
    Atomics.add(this.control, DOORBELL, 1);
    if (endLinger) {
      Atomics.add(this.control, URGENT, 1);
      if (Atomics.load(this.control, LINGERING) === 1) {
        Atomics.notify(this.control, URGENT);
        return true;
      }
    }
    if (Atomics.load(this.control, SLEEPING) === 0) return false;
    Atomics.notify(this.control, DOORBELL);
    return true;
  }

  /** Whether the writer thread sleeps (or is about to) in `waitUnless`. */
  writerSleeping(): boolean {
    return Atomics.load(this.control, SLEEPING) === 1;
  }

  /** Hands every unread result to `settle`; synchronous, so it also runs when the writer thread died. */
  drain(settle: (id: number, result: WireResult) => void): void {
    const written = Atomics.load(this.control, RESULTS_WRITTEN);
    while (this.read !== written) {
      const slot = (this.read >>> 0) % this.capacity;
      settle(this.ids[slot] as number, { ok: true, value: CODED_VALUES[this.codes[slot] as number] });
      this.read = (this.read + 1) | 0;
    }
  }

  /**
   * Resolves once results past those read are written (or `wake` is called). `Atomics.waitAsync` is V8's,
   * on Node 20; it resolves on the event loop without keeping the process alive (the worker's ref does).
   */
  async whenWritten(): Promise<void> {
    const waited = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.control, RESULTS_WRITTEN, this.read);
    if (waited.async) await waited.value;
  }

  /** Batches the thread committed so far. */
  commits(): number {
    return Atomics.load(this.control, COMMITS);
  }

  /** Wakes `whenWritten` (closing, or the writer thread died). */
  wake(): void {
    Atomics.notify(this.control, RESULTS_WRITTEN);
  }
}

/** The writer thread's end: waits for the doorbell, publishes results. */
export class ChannelWriterEnd extends ChannelView {
  private written = 0;

  /** The doorbell's count now: read before taking messages, then `waitUnless(count)`. */
  doorbell(): number {
    return Atomics.load(this.control, DOORBELL);
  }

  /** The count of rings that end a delay: read before taking messages, then `linger(count, ms)`. */
  urgent(): number {
    return Atomics.load(this.control, URGENT);
  }

  /** Sleeps until the doorbell rings past `seen` (returns at once if it already did). */
  waitUnless(seen: number): void {
    Atomics.store(this.control, SLEEPING, 1);
    Atomics.wait(this.control, DOORBELL, seen);
    Atomics.store(this.control, SLEEPING, 0);
  }

  /**
   * Waits `ms`, or until a ring that ends the delay (`ring(true)`) past `seenUrgent` (at once if one came since).
   * A plain `ring(false)` neither wakes nor ends it (no futex wake on the main thread's side): what it posted is
   * taken when the wait ends.
   */
  linger(seenUrgent: number, ms: number): void {
    Atomics.store(this.control, LINGERING, 1);
    Atomics.wait(this.control, URGENT, seenUrgent, ms);
    Atomics.store(this.control, LINGERING, 0);
  }

  /** Puts one coded result in the ring (published by `publish`). */
  put(id: number, code: number): void {
    const slot = (this.written >>> 0) % this.capacity;
    this.ids[slot] = id;
    this.codes[slot] = code;
    this.written = (this.written + 1) | 0;
  }

  /**
   * After a batch committed: makes the results put so far visible to the main thread and wakes it. A batch
   * with none in the ring (events, errors: their results go as a message) wakes nobody here: one wake-up each.
   */
  publish(): void {
    Atomics.add(this.control, COMMITS, 1);
    if (Atomics.load(this.control, RESULTS_WRITTEN) === this.written) return;
    Atomics.store(this.control, RESULTS_WRITTEN, this.written);
    Atomics.notify(this.control, RESULTS_WRITTEN);
  }
}
