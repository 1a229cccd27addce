import type Database from "better-sqlite3";

/** WAL pages (estimated) between two of the writer's own checkpoints: ~40 MiB at 4 KiB, under the shrink floor. */
export const RESTART_EVERY_PAGES = 10_000;

/**
 * Lets the log's WAL restart under steady writes, so it stays near `RESTART_EVERY_PAGES` instead of growing.
 *
 * SQLite writes a WAL from its start again (a restart) only when a write transaction begins with every frame
 * already copied into the database (wal.c `walRestartLog`: nBackfill == mxFrame). The checkpoints run on their own
 * thread and connection (wal-checkpointer.ts) beside the writer's commits, so under steady traffic a commit almost
 * always lands while one runs: it ends a few frames short, and the WAL never restarts. Measured at 500 decisions/s
 * after 10 s at saturation: 167 -> 407 MiB in 20 s, 12 MB/s, with no restart (at that rate a gap long enough for a
 * checkpoint to finish comes about once in 22,000 commits); the soak saw 115-386 MiB between restarts.
 *
 * So once `everyPages` pages were written, the writer's thread runs a PASSIVE checkpoint itself, between its
 * batches, right after the checkpointer's thread finished one: no commit can land during it (the thread is the
 * writer), so it copies the few frames that checkpoint left, and the next commit restarts the WAL. Right after,
 * because a checkpoint first syncs the WAL: the background one just synced all but its tail, so this one's syncs
 * cover only the tail (run at any time, up to a checkpoint interval of frames was unsynced, and the writer's thread
 * was held 25-53 ms, nearly all of it in the syncs, 15 of 15 times in a run). The bulk stays on the checkpointer's
 * thread. A PASSIVE checkpoint never waits: while the checkpointer's thread runs one, or a reader still needs old
 * frames, it returns short and is tried again after the next background checkpoint.
 */
export class WalRestart {
  private pages = 0;
  /** The checkpointer thread's count of finished checkpoints when last seen. */
  private seenDone = 0;
  /** Checkpoints this writer finished itself (tests and stats). */
  finished = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly everyPages = RESTART_EVERY_PAGES,
  ) {}

  /**
   * After a committed batch that wrote about `pages` pages to the WAL, with `checkpointsDone` the checkpointer
   * thread's count of finished checkpoints: true when it finished a checkpoint itself.
   */
  afterCommit(pages: number, checkpointsDone: number): boolean {
    this.pages += pages;
    const justDone = checkpointsDone !== this.seenDone;
    this.seenDone = checkpointsDone;
    if (this.pages < this.everyPages || !justDone) return false;
    const [result] = this.db.pragma("wal_checkpoint(PASSIVE)") as WalCheckpointResult[];
    if (result?.busy !== 0 || result.checkpointed !== result.log) return false;
    this.pages = 0;
    this.finished++;
    return true;
  }
}

/** A row of `PRAGMA wal_checkpoint`: frames in the WAL and frames copied into the database. */
interface WalCheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}
