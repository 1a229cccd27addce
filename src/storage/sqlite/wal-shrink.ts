import { statSync } from "node:fs";
import type Database from "better-sqlite3";

/** The WAL's size in steady state that is never shrunk below (SQLite truncates to `journal_size_limit`). */
export const WAL_FLOOR_BYTES = 64 * 1024 * 1024;
/** Most bytes one truncation frees: ~5-10 ms of synchronous TRIM on a `discard` mount (measured 0.4-0.7 ms/MiB). */
export const WAL_SHRINK_STEP_BYTES = 16 * 1024 * 1024;
/** How often the limit follows the file's size. */
const UPDATE_EVERY_MS = 1000;

/**
 * Shrinks the log writer's WAL a step at a time instead of all at once inside a commit.
 *
 * SQLite truncates the WAL to `journal_size_limit` in the first commit after the log restarts (wal.c
 * `walLimitSize`), on the committing thread, while that batch's requests wait. Under sustained writes the WAL
 * grows far past the floor between restarts (a checkpoint can only restart it once every frame is copied and
 * no reader still needs one: 64 -> 386 MiB within 50 s in the soak), and on a file system mounted with `discard`
 * (ext4 here) every freed block is TRIMmed synchronously inside the truncate: commits of 110-355 ms in the soak,
 * the thread in `blkdev_issue_discard` under `ext4_truncate` (sampled from /proc/<pid>/task/<tid>/stack).
 *
 * So the limit follows the file: about once a second it is set to the WAL's size less one step (never below the
 * floor), and a restart frees at most one step plus what the WAL grew since, however large it had grown. A WAL
 * that keeps needing its size is shrunk a step and regrows (block allocation is cheap; the TRIM is not); one
 * that no longer does comes back to the floor a step per restart. Other connections to the file never truncate
 * (`journal_size_limit = -1`, wal-bounds.ts): a write of the main connection that restarted the log would free
 * the whole excess on the event loop.
 */
export class WalShrink {
  private limit = -2; // never equal to a value set
  private updatedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly db: Database.Database,
    private readonly walPath: string,
    private readonly floorBytes = WAL_FLOOR_BYTES,
    private readonly stepBytes = WAL_SHRINK_STEP_BYTES,
  ) {
    this.update();
  }

  /** After a commit: the limit follows the WAL's size at most once per `UPDATE_EVERY_MS`. */
  afterCommit(now: number): void {
    if (now - this.updatedAt >= UPDATE_EVERY_MS) {
      this.updatedAt = now;
      this.update();
    }
  }

  /** The limit now in force (bytes). */
  current(): number {
    return this.limit;
  }

  private update(): void {
    let size = 0;
    try {
      size = statSync(this.walPath).size;
    } catch {
      // No WAL file yet (nothing written): the floor.
    }
    const limit = Math.max(this.floorBytes, size - this.stepBytes);
    if (limit === this.limit) return;
    this.db.pragma(`journal_size_limit = ${limit}`);
    this.limit = limit;
  }
}
