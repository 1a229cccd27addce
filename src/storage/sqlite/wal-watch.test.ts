import { closeSync, mkdtempSync, openSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SqliteStore } from "./database.js";
import { WATCH_CHECKPOINT_PAGES, walBacklogPages } from "./wal-watch.js";

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function openStore(): Promise<{ store: SqliteStore; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-walwatch-"));
  dirs.push(dir);
  const path = join(dir, "log.db");
  const store = new SqliteStore(path, { walWatch: { everyMs: 20 } });
  stores.push(store);
  await store.ready();
  store.db.exec("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB)");
  return { store, path };
}

/** One main-connection commit of `rows` rows of ~one page each (4,000 bytes in 4,096-byte pages). */
function writeOnMain(store: SqliteStore, rows: number): void {
  const insert = store.db.prepare("INSERT INTO blobs (body) VALUES (?)");
  store.db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(Buffer.alloc(4000, i % 251));
  })();
}

function backlog(path: string): number {
  const fd = openSync(`${path}-shm`, "r");
  try {
    return walBacklogPages(fd);
  } finally {
    closeSync(fd);
  }
}

describe("the main connection's WAL beside a writer thread", () => {
  it("never checkpoints inside a main-connection commit: the watch's thread does", async () => {
    const { store, path } = await openStore();
    expect(store.db.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
    // Past SQLite's automatic threshold (and the watch's) in one commit: with wal_autocheckpoint = 1000 this commit itself would
    // have copied the pages back (backlog 0 when it returns); no checkpoint was asked for before it.
    writeOnMain(store, 2500);
    expect(backlog(path)).toBeGreaterThanOrEqual(2500);
    expect(store.walWatch?.checkpoints).toBe(0);
    // The watch sees the backlog and its thread copies it back. Both are awaited: the backlog in the -shm file
    // falls while the checkpoint runs, and the thread counts it once the checkpoint returned.
    await vi.waitFor(
      () => {
        expect(backlog(path)).toBeLessThan(WATCH_CHECKPOINT_PAGES);
        expect(store.walWatch?.checkpoints).toBeGreaterThanOrEqual(1);
      },
      { timeout: 20_000, interval: 20 },
    );
    expect((store.db.prepare("SELECT count(*) AS n FROM blobs").get() as { n: number }).n).toBe(2500);
  });

  it("keeps a WAL written only by the main connection bounded", async () => {
    const { store, path } = await openStore();
    const pageSize = store.db.pragma("page_size", { simple: true }) as number;
    // 12 commits of 600 pages: 7,200 pages in all, 29 MB of WAL if nothing checkpointed it.
    for (let round = 0; round < 12; round++) {
      writeOnMain(store, 600);
      if (backlog(path) >= WATCH_CHECKPOINT_PAGES) {
        const before = store.walWatch?.checkpoints ?? 0;
        await vi.waitFor(() => expect(store.walWatch?.checkpoints).toBeGreaterThan(before), {
          timeout: 20_000,
          interval: 20,
        });
      }
    }
    // A WAL restarts from its start after a full checkpoint: it never held much more than the threshold and a round.
    expect(statSync(`${path}-wal`).size).toBeLessThan((WATCH_CHECKPOINT_PAGES + 1200) * pageSize);
    expect(store.walWatch?.checkpoints).toBeGreaterThanOrEqual(3);
  });

  it("leaves the automatic checkpoint on when the connection writes inline", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loopwise-walwatch-"));
    dirs.push(dir);
    const store = new SqliteStore(join(dir, "log.db"), { writer: "inline" });
    stores.push(store);
    expect(store.db.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    expect(store.walWatch).toBeUndefined();
  });
});
