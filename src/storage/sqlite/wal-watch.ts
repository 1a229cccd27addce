import { closeSync, openSync, readSync } from "node:fs";
import { endianness } from "node:os";
import { WalCheckpointer } from "./wal-checkpointer.js";

/**
 * The backlog (pages) past which the watch asks for a checkpoint: twice SQLite's automatic threshold (1,000, which
 * the log writer keeps, log-writer-worker.ts `CHECKPOINT_PAGES`), so at saturation, where the writer's own
 * requests keep the backlog under ~1,000, this second thread stays unstarted; only writes the writer did not count
 * (the main connection's, or a writer gone idle) reach it. A WAL the main connection alone writes stays within
 * ~2,000 pages plus what one second adds.
 */
export const WATCH_CHECKPOINT_PAGES = 2000;

/**
 * The WAL-index header's frame counts (https://www.sqlite.org/walformat.html#the_wal_index_file_format): the
 * first copy of the header holds `mxFrame` (the last valid frame) at byte 16, and the checkpoint info after the
 * two header copies holds `nBackfill` (frames already copied into the database) at byte 96; both are 32-bit
 * integers in the machine's byte order. `mxFrame - nBackfill` is what a checkpoint would still copy.
 */
const MX_FRAME_OFFSET = 16;
const N_BACKFILL_OFFSET = 96;
const HEADER_BYTES = 100;

/** Frames in the WAL not yet checkpointed, read from the `-shm` file (0 when it cannot be read). */
export function walBacklogPages(fd: number, scratch = Buffer.alloc(HEADER_BYTES)): number {
  if (readSync(fd, scratch, 0, HEADER_BYTES, 0) < HEADER_BYTES) return 0;
  const little = endianness() === "LE";
  const mxFrame = little ? scratch.readUInt32LE(MX_FRAME_OFFSET) : scratch.readUInt32BE(MX_FRAME_OFFSET);
  const backfilled = little ? scratch.readUInt32LE(N_BACKFILL_OFFSET) : scratch.readUInt32BE(N_BACKFILL_OFFSET);
  return Math.max(0, mxFrame - backfilled);
}

export interface WalWatchOptions {
  durability: "process" | "fsync";
  /** How often the backlog is read (ms). */
  everyMs?: number;
  /** The backlog (pages) past which a checkpoint is asked for. */
  pages?: number;
}

/**
 * Keeps a WAL bounded that the main thread's connection writes, without a checkpoint on the event loop.
 *
 * Why: the main connection (dashboard minute saves, rollouts, keys, migrations) ran SQLite's automatic checkpoint,
 * which runs inside the commit that finds the WAL past 1,000 pages, whoever wrote them: with the log writer's
 * thread filling the WAL at saturation, a dashboard save that crossed the threshold copied ~1,000 pages and
 * fsynced on the event loop (a 78 ms save was seen in a soak). So the main connection runs with
 * `wal_autocheckpoint = 0` (wal-bounds.ts) and this watch reads the WAL-index header every `everyMs` (a 100-byte
 * read of the `-shm` file: better-sqlite3 exposes no WAL hook) and asks a checkpointer thread of its own for a
 * PASSIVE checkpoint once `pages` frames are waiting (two PASSIVE checkpoints at once are safe: the second finds
 * the lock taken and returns busy). The log writer still asks its own checkpointer after its batches
 * (log-writer-worker.ts `checkpointWhenDue`), so at saturation this one rarely finds a backlog; it is for what the
 * writer's estimate does not see: the main connection's own commits, and a writer that went idle.
 * The thread starts at the first checkpoint asked for; unlike the writer's, a failed thread is not replaced by a
 * checkpoint here (that is the stall this avoids): the WAL then grows until the writer's next checkpoint.
 */
export class WalWatch {
  private readonly checkpointer: WalCheckpointer;
  private readonly timer: NodeJS.Timeout;
  private readonly scratch = Buffer.alloc(HEADER_BYTES);
  private fd: number | undefined;
  private readonly pages: number;

  constructor(
    private readonly path: string,
    options: WalWatchOptions,
  ) {
    this.pages = options.pages ?? WATCH_CHECKPOINT_PAGES;
    this.checkpointer = new WalCheckpointer(path, options.durability);
    this.timer = setInterval(() => this.check(), options.everyMs ?? 1000);
    this.timer.unref();
  }

  /** Checkpoints this watch's thread finished (tests and stats). */
  get checkpoints(): number {
    return this.checkpointer.completed;
  }

  /** Reads the backlog; asks for a checkpoint past the threshold. */
  check(): void {
    const backlog = this.backlog();
    if (backlog >= this.pages) this.checkpointer.request();
  }

  /** Frames waiting for a checkpoint (0 before the `-shm` file exists). */
  backlog(): number {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(`${this.path}-shm`, "r");
      } catch {
        return 0;
      }
    }
    return walBacklogPages(this.fd, this.scratch);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.checkpointer.stop();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
