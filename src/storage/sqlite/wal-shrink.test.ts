import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { WalShrink } from "./wal-shrink.js";

const KiB = 1024;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openLog() {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-wal-shrink-"));
  dirs.push(dir);
  const path = join(dir, "log.db");
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("wal_autocheckpoint = 0"); // checkpoints only when the test says
  db.exec("CREATE TABLE t (x BLOB)");
  const insert = db.prepare("INSERT INTO t VALUES (?)");
  /** One commit of `bytes` of payload. */
  const write = (bytes: number) => insert.run(Buffer.alloc(bytes, 7));
  return { db, walPath: `${path}-wal`, write };
}

describe("WalShrink", () => {
  it("frees at most one step per log restart, down to the floor, where SQLite's limit alone frees it all at once", () => {
    const { db, walPath, write } = openLog();
    const [floor, step] = [256 * KiB, 128 * KiB];
    for (let i = 0; i < 64; i++) write(16 * KiB); // ~1.1 MiB of WAL, nothing checkpointed
    const grown = statSync(walPath).size;
    expect(grown).toBeGreaterThan(floor + 4 * step);

    const shrink = new WalShrink(db, walPath, floor, step);
    expect(shrink.current()).toBe(grown - step);
    const sizes: number[] = [];
    for (let restart = 1; restart <= 12; restart++) {
      db.pragma("wal_checkpoint(PASSIVE)"); // every frame copied, no reader: the next write restarts the log
      write(100); // the first commit after the restart truncates to the limit
      sizes.push(statSync(walPath).size);
      shrink.afterCommit(restart * 1000);
    }
    // Each restart took one step off (never the whole excess), until the floor.
    expect(sizes[0]).toBe(grown - step);
    for (let i = 1; i < sizes.length; i++) {
      expect(sizes[i]).toBe(Math.max(floor, (sizes[i - 1] as number) - step));
    }
    expect(sizes.at(-1)).toBe(floor);
    expect(shrink.current()).toBe(floor);

    // The same WAL with only SQLite's limit set to the floor: one restart frees everything above it.
    for (let i = 0; i < 64; i++) write(16 * KiB);
    db.pragma(`journal_size_limit = ${floor}`);
    db.pragma("wal_checkpoint(PASSIVE)");
    write(100);
    expect(statSync(walPath).size).toBe(floor);
    db.close();
  });

  it("follows the file at most once a second, and holds the floor while the WAL is small or missing", () => {
    const { db, walPath, write } = openLog();
    const shrink = new WalShrink(db, `${walPath}-not-there`, 256 * KiB, 128 * KiB);
    expect(shrink.current()).toBe(256 * KiB);
    const following = new WalShrink(db, walPath, 256 * KiB, 128 * KiB);
    for (let i = 0; i < 64; i++) write(16 * KiB);
    following.afterCommit(500); // the first call after creation reads the file
    const first = following.current();
    expect(first).toBe(statSync(walPath).size - 128 * KiB);
    for (let i = 0; i < 32; i++) write(16 * KiB);
    following.afterCommit(900); // under a second since the last reading: unchanged
    expect(following.current()).toBe(first);
    following.afterCommit(1500);
    expect(following.current()).toBe(statSync(walPath).size - 128 * KiB);
    db.close();
  });
});
