import type { Worker } from "node:worker_threads";
import { startWorker } from "../../core/worker-url.js";

/**
 * WAL checkpoints on a connection and thread of their own, so they never sit in front of a commit.
 *
 * Why: a checkpoint copies ~1,000 pages into the database file and fsyncs twice, 7-8 ms on the bench machine;
 * run by the log writer's thread it delayed whichever rank, event or reward came next (in `bench rank`, every
 * ~200th decision waited 7-8 ms: most of rank's p99). In WAL mode a PASSIVE checkpoint on another connection
 * runs beside the writer's commits and blocks none of them (https://www.sqlite.org/wal.html#ckpt), so the
 * writer only asks for one. Durability is unchanged: a commit is durable in the WAL whatever the checkpoints do.
 *
 * The thread (wal-checkpointer-worker.ts) starts at the first request (most short-lived logs never need one),
 * waits on shared memory (the writer thread runs no event loop), and runs one checkpoint per wake-up however many
 * requests arrived meanwhile. If it is gone (it failed to open the file, or died), `request` returns false and the
 * writer checkpoints itself, as it did before.
 */
export const CHECKPOINTER_SLOTS = { requests: 0, done: 1, closing: 2, exited: 3 } as const;

export interface CheckpointerData {
  path: string;
  durability: "process" | "fsync";
  control: SharedArrayBuffer;
}

/** How long `close` waits for the thread to finish a checkpoint in progress before leaving it to be terminated. */
const CLOSE_WAIT_MS = 10_000;

export class WalCheckpointer {
  private worker: Worker | undefined;
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));

  constructor(
    private readonly path: string,
    private readonly durability: "process" | "fsync",
  ) {}

  /** Asks the thread for a checkpoint; false when it is not running (the caller then checkpoints itself). */
  request(): boolean {
    const { control } = this;
    if (Atomics.load(control, CHECKPOINTER_SLOTS.exited) !== 0) return false;
    if (this.worker === undefined) {
      const data: CheckpointerData = {
        path: this.path,
        durability: this.durability,
        control: control.buffer as SharedArrayBuffer,
      };
      this.worker = startWorker(import.meta.url, "./wal-checkpointer-worker", { workerData: data });
      // Its exit is seen through the shared `exited` slot: the writer thread never runs its event loop.
      this.worker.unref();
      this.worker.on("error", () => {});
    }
    Atomics.add(control, CHECKPOINTER_SLOTS.requests, 1);
    Atomics.notify(control, CHECKPOINTER_SLOTS.requests);
    return true;
  }

  /** Checkpoints the thread finished (tests and stats). */
  get completed(): number {
    return Atomics.load(this.control, CHECKPOINTER_SLOTS.done);
  }

  /**
   * Stops the thread without blocking the event loop (an owner on the main thread, wal-watch.ts): `close` waits
   * synchronously, and a thread still starting may need the main thread's event loop to finish starting.
   */
  async stop(): Promise<void> {
    const { worker, control } = this;
    if (worker === undefined) return;
    wake(control);
    if (Atomics.load(control, CHECKPOINTER_SLOTS.exited) !== 0) return;
    // Referenced while it is awaited: the thread is unreferenced while serving, and awaiting its exit with nothing
    // else pending let the process exit mid-await (exit code 13; the caller's code after `close` never ran).
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), CLOSE_WAIT_MS).unref());
    if ((await Promise.race([exited, timeout])) === "timeout") await worker.terminate();
  }

  /** Stops the thread, waiting (synchronously) for a checkpoint in progress to end, at most CLOSE_WAIT_MS. */
  close(): void {
    if (this.worker === undefined) return;
    const { control } = this;
    wake(control);
    const deadline = Date.now() + CLOSE_WAIT_MS;
    while (Atomics.load(control, CHECKPOINTER_SLOTS.exited) === 0 && Date.now() < deadline) {
      Atomics.wait(control, CHECKPOINTER_SLOTS.exited, 0, 100);
    }
  }
}

/**
 * Tells the thread to close. `requests` moves too: the thread waits for it to differ from the count it last saw,
 * so a close that arrived while a checkpoint ran (a notify nobody waited for) still ends the next wait at once;
 * with `closing` alone, closing right after the last commit's request waited out CLOSE_WAIT_MS (10 s per close).
 */
function wake(control: Int32Array): void {
  Atomics.store(control, CHECKPOINTER_SLOTS.closing, 1);
  Atomics.add(control, CHECKPOINTER_SLOTS.requests, 1);
  Atomics.notify(control, CHECKPOINTER_SLOTS.requests);
}
