import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { WalRestart } from "./wal-restart.js";

const KiB = 1024;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * The log's writer, a checkpointer on a connection of its own, and a reader. The race that keeps a WAL from
 * restarting under steady writes (a commit landing while the checkpointer runs) is played deterministically: a
 * reader holds a snapshot while the writer commits and the checkpointer runs, so the checkpointer stops short of
 * the last commits, as it does when they land during it.
 */
function openLog() {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-wal-restart-"));
  dirs.push(dir);
  const path = join(dir, "log.db");
  const writer = new Database(path);
  writer.pragma("journal_mode = WAL");
  writer.pragma("wal_autocheckpoint = 0"); // checkpoints only where the test says, as on the writer's thread
  writer.exec("CREATE TABLE t (x BLOB)");
  const checkpointer = new Database(path);
  const reader = new Database(path);
  const insert = writer.prepare("INSERT INTO t VALUES (?)");
  const count = reader.prepare("SELECT count(*) FROM t").pluck();
  let checkpoints = 0;
  /**
   * A round of steady traffic: commits of ~16 KiB, one of them while the checkpointer runs; `afterCommit` gets the
   * pages written and the checkpointer's count of finished checkpoints, as the writer's thread does.
   */
  const round = (afterCommit?: (pages: number, done: number) => void) => {
    insert.run(Buffer.alloc(16 * KiB, 1));
    afterCommit?.(5, checkpoints);
    reader.exec("BEGIN");
    count.get(); // the reader's snapshot: the checkpoint cannot copy frames after it
    insert.run(Buffer.alloc(16 * KiB, 2));
    checkpointer.pragma("wal_checkpoint(PASSIVE)");
    checkpoints++;
    reader.exec("COMMIT");
    afterCommit?.(5, checkpoints);
  };
  const close = () => {
    for (const db of [reader, checkpointer, writer]) db.close();
  };
  return { writer, walPath: `${path}-wal`, round, close };
}

describe("WalRestart", () => {
  it("keeps a WAL that another connection checkpoints from growing without end under steady writes", () => {
    // Without it: every checkpoint ends a commit short, no write ever finds the WAL fully copied, and it grows.
    const plain = openLog();
    for (let i = 0; i < 120; i++) plain.round();
    const grown = statSync(plain.walPath).size;
    expect(grown).toBeGreaterThan(120 * 32 * KiB);
    plain.close();

    // With it, every ~100 pages: the writer copies the tail itself and the next commit starts the WAL over.
    const log = openLog();
    const restart = new WalRestart(log.writer, 100);
    for (let i = 0; i < 120; i++) log.round((pages, done) => restart.afterCommit(pages, done));
    expect(restart.finished).toBeGreaterThanOrEqual(10);
    const bounded = statSync(log.walPath).size;
    // About 100 pages of frames (plus a round's own) between restarts, never the whole history.
    expect(bounded).toBeLessThan(200 * 4 * KiB + 64 * KiB);
    expect(bounded).toBeLessThan(grown / 5);
    log.close();
  });

  it("runs only right after a background checkpoint, and again after the next one when a reader still needs frames", () => {
    const log = openLog();
    const restart = new WalRestart(log.writer, 10);
    const reader = new Database(log.walPath.slice(0, -4));
    log.round();
    reader.exec("BEGIN");
    reader.prepare("SELECT count(*) FROM t").pluck().get();
    log.writer.prepare("INSERT INTO t VALUES (?)").run(Buffer.alloc(16 * KiB, 3));
    // Enough pages, but no background checkpoint finished since the last look: not now (its syncs would cover
    // every frame written since the last one).
    expect(restart.afterCommit(20, 0)).toBe(false);
    // One finished, but the reader's snapshot is older than the last commit: the checkpoint stops short.
    expect(restart.afterCommit(1, 1)).toBe(false);
    expect(restart.finished).toBe(0);
    reader.exec("COMMIT");
    expect(restart.afterCommit(1, 2)).toBe(true);
    expect(restart.finished).toBe(1);
    reader.close();
    log.close();
  });
});
