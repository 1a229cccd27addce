import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { WalCheckpointer } from "./wal-checkpointer.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A WAL database whose writer never checkpoints, holding `rows` rows of 4 KB in its WAL. */
function walDatabase(rows: number): { path: string; db: Database.Database } {
  const dir = mkdtempSync(join(tmpdir(), "loopwise-ckpt-"));
  dirs.push(dir);
  const path = join(dir, "log.db");
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("wal_autocheckpoint = 0");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
  const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
  for (let i = 0; i < rows; i++) insert.run(Buffer.alloc(4000, i % 251));
  return { path, db };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe("WAL checkpointer thread", () => {
  it("keeps its process alive until the thread stopped: awaiting `stop` as a process's last act returns", () => {
    // The thread is unreferenced while it serves (it never keeps an idle process alive); a stop awaited with
    // nothing else pending once let the process exit mid-await (exit code 13, the code after it never ran).
    const { path, db } = walDatabase(10);
    db.close();
    const script = join(dirs[dirs.length - 1] as string, "stop.mts");
    const module = pathToFileURL(join(import.meta.dirname, "wal-checkpointer.ts")).href;
    writeFileSync(
      script,
      `import { WalCheckpointer } from ${JSON.stringify(module)};
       const checkpointer = new WalCheckpointer(process.argv[2], "process");
       checkpointer.request();
       await checkpointer.stop();
       console.log("stopped");`,
    );
    const run = spawnSync(process.execPath, ["--import", "tsx", script, path], { encoding: "utf8", timeout: 25_000 });
    expect([run.status, run.stdout.trim()]).toEqual([0, "stopped"]);
  });

  it("copies the WAL into the database file on its own connection while the writer keeps writing", async () => {
    const { path, db } = walDatabase(500);
    const before = statSync(path).size;
    const checkpointer = new WalCheckpointer(path, "process");
    expect(checkpointer.request()).toBe(true);
    await until(() => checkpointer.completed >= 1);
    expect(checkpointer.completed).toBe(1);
    // The pages reached the database file without the writer's connection checkpointing.
    expect(statSync(path).size).toBeGreaterThan(before + 500 * 4000);
    // The writer was never blocked: it commits and the rows read back through a fresh connection.
    db.prepare("INSERT INTO t (body) VALUES (?)").run(Buffer.alloc(10, 1));
    const reader = new Database(path, { readonly: true });
    expect((reader.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(501);
    reader.close();
    // A second request, after more writes, runs a second checkpoint.
    expect(checkpointer.request()).toBe(true);
    await until(() => checkpointer.completed >= 2);
    expect(checkpointer.completed).toBe(2);
    checkpointer.close();
    db.close();
  });

  it("says it is not running when its thread could not open the file, so the writer checkpoints itself", async () => {
    const checkpointer = new WalCheckpointer(join(tmpdir(), "loopwise-no-such-dir", "x", "log.db"), "process");
    expect(checkpointer.request()).toBe(true); // starts the thread; it fails to open the file
    await until(() => !checkpointer.request());
    expect(checkpointer.request()).toBe(false);
    checkpointer.close();
  });

  it("stops when closed while a checkpoint runs (the close is not lost behind it)", async () => {
    const { path, db } = walDatabase(100);
    const checkpointer = new WalCheckpointer(path, "process");
    checkpointer.request();
    await until(() => checkpointer.completed >= 1); // the thread is up and waiting
    const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
    db.transaction(() => {
      for (let i = 0; i < 4000; i++) insert.run(Buffer.alloc(4000, i % 251));
    })();
    const shm = openSync(`${path}-shm`, "r");
    const attempted = () => {
      const header = Buffer.alloc(132);
      readSync(shm, header, 0, 132, 0);
      return header.readUInt32LE(128); // nBackfillAttempted: set when a checkpoint starts (walformat.html)
    };
    const before = attempted();
    checkpointer.request();
    while (attempted() === before); // the 16 MB checkpoint has started on the thread
    checkpointer.close();
    closeSync(shm);
    // The thread ended: a request now says it is not running.
    expect(checkpointer.request()).toBe(false);
    db.close();
  });

  it("close returns at once when no checkpoint was ever asked for", () => {
    const checkpointer = new WalCheckpointer(join(tmpdir(), "unused.db"), "process");
    checkpointer.close();
    expect(checkpointer.completed).toBe(0);
  });
});
