import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { DecisionJournal, type JournalOptions } from "./decision-journal.js";
import { replayJournal } from "./journal-replay.js";
import { InlineLogWriter, type QueueLimits, type SqliteLogWriter, WorkerLogWriter } from "./log-writer.js";
import type { WriterData } from "./log-writer-worker.js";
import { migrate } from "./migrations.js";
import { boundWal } from "./wal-bounds.js";
import { WalWatch, type WalWatchOptions } from "./wal-watch.js";

export type SqliteDb = Database.Database;

export interface OpenOptions {
  /** `process`: durable against a process crash (WAL + synchronous=NORMAL); `fsync`: against power loss too. */
  durability?: "process" | "fsync";
  /**
   * `worker` (default for files): the log writer runs in a worker thread with its own connection.
   * `inline`: writes run on this connection (":memory:" always; read-mostly tools such as the CLI).
   */
  writer?: "worker" | "inline";
  /** The worker writer's group commit delay in ms (config `storage.groupCommitMs`; log-writer-worker.ts). */
  groupCommitMs?: number;
  /** Decisions per sealed facts block (small values are for tests). */
  factsBlockSize?: number;
  /**
   * Event ids remembered for deduplication, the last this many written (config `ingest.dedupWindow`;
   * event-inserts.ts). One process writing events to a file: another process dedups against its own window.
   */
  dedupWindow?: number;
  /** Rebuild that window from the log before `ready()` resolves (a server) rather than at the first events write. */
  loadDedupAtStart?: boolean;
  /** Bounds of the worker writer's queue (back pressure past them). */
  queue?: QueueLimits;
  /** How the main connection's WAL backlog is watched when the writer is a thread (wal-watch.ts; tests shorten it). */
  walWatch?: Omit<WalWatchOptions, "durability">;
  /**
   * The decision journal (decision-journal.ts) in `<dir of the file>/decision-journal`: `ready()` replays what an
   * earlier run left there, then fresh decisions are acknowledged at their journal write. Only with a worker writer
   * and durability `process`; ignored otherwise.
   */
  journal?: boolean | JournalOptions;
}

/** What `ready()` replayed from the decision journal. */
export interface JournalReplay {
  segments: number;
  decisions: number;
  /** Decisions the log held already (committed before the crash): kept once. */
  present: number;
  /** Segments that ended in a torn or corrupt frame (a machine crash mid-write: that write was never acknowledged). */
  torn: number;
}

/**
 * A store's database: its own file (opened here in WAL mode; `owned`, so the store closes it) or an open
 * connection shared with other stores (the store leaves it open).
 */
export function ownOrShare(pathOrDb: string | SqliteDb): { db: SqliteDb; owned: boolean } {
  if (typeof pathOrDb !== "string") return { db: pathOrDb, owned: false };
  const db = new Database(pathOrDb);
  db.pragma("journal_mode = WAL");
  return { db, owned: true };
}

/**
 * One SQLite database file shared by the stores of one process. `db` is the main thread's connection:
 * every read, and the low-volume admin writes (policy snapshots, rollouts: a rare overlap with the
 * writer waits on busy_timeout). The hot writes (decisions, activations, rewards, events, items) go
 * through `writer`, which group-commits them off the event loop (log-writer.ts); WAL readers here see
 * each committed batch. The schema is migrated here, before the writer starts (migrations.ts).
 * `path` ":memory:" gives a private in-memory database (tests, fast simulations), written inline.
 */
export class SqliteStore {
  readonly db: SqliteDb;
  readonly writer: SqliteLogWriter;
  /** Checkpoints for the main connection's writes when the writer is a thread (wal-watch.ts); none inline. */
  readonly walWatch: WalWatch | undefined;
  /** What `ready()` replayed from an earlier run's decision journal (with `journal` only). */
  journalReplay: JournalReplay | undefined;
  private readonly journalDir: string | undefined;
  private journalOptions: JournalOptions = {};
  private journal: DecisionJournal | undefined;
  private readying: Promise<void> | undefined;

  constructor(path: string, options: OpenOptions = {}) {
    const memory = path === ":memory:";
    if (!memory) mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // A new file can give back the pages log retention frees (log-retention-sqlite.ts `releaseFreePages`). The
    // mode is fixed when the first table is created (and must precede WAL); an older file keeps NONE until an
    // offline VACUUM after setting it. Not in memory: there is no file to give pages back to.
    if (!memory && this.db.prepare("SELECT count(*) FROM sqlite_schema").pluck().get() === 0) {
      this.db.pragma("auto_vacuum = INCREMENTAL");
    }
    this.db.pragma("journal_mode = WAL");
    // WAL + NORMAL: a committed transaction is in the WAL file (written, not fsynced) when commit returns,
    // so it survives a crash of this process; only an OS crash or power loss can lose the last commits.
    const durability = options.durability ?? "process";
    this.db.pragma(`synchronous = ${durability === "fsync" ? "FULL" : "NORMAL"}`);
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("foreign_keys = ON");
    const inline = memory || options.writer === "inline";
    // Beside a writer thread, no commit of this connection checkpoints on the event loop (wal-watch.ts).
    boundWal(this.db, inline ? "automatic" : "elsewhere");
    migrate(this.db);
    const { factsBlockSize, dedupWindow, loadDedupAtStart, groupCommitMs } = options;
    if (inline) {
      const writer = new InlineLogWriter(this.db, { factsBlockSize, dedupWindow });
      if (loadDedupAtStart) writer.loadDedupWindow();
      this.writer = writer;
    } else {
      const data: WriterData = { path, durability };
      if (factsBlockSize !== undefined) data.factsBlockSize = factsBlockSize;
      if (groupCommitMs) data.groupCommitMs = groupCommitMs;
      if (dedupWindow !== undefined) data.dedupWindow = dedupWindow;
      if (loadDedupAtStart) data.loadDedupAtStart = true;
      this.writer = new WorkerLogWriter(data, options.queue);
    }
    this.walWatch = inline ? undefined : new WalWatch(path, { ...options.walWatch, durability });
    if (options.journal && !inline && durability === "process") {
      this.journalDir = join(dirname(path), "decision-journal");
      if (typeof options.journal === "object") this.journalOptions = options.journal;
    }
  }

  /**
   * Resolves once the log writer can commit (its thread is up) and, with a journal, once an earlier run's journal was
   * replayed into the log: await it before serving.
   */
  ready(): Promise<void> {
    this.readying ??= this.startUp();
    return this.readying;
  }

  private async startUp(): Promise<void> {
    await this.writer.ready();
    const dir = this.journalDir;
    if (dir === undefined || !(this.writer instanceof WorkerLogWriter)) return;
    this.journalReplay = await replayJournal(dir, this.writer);
    this.journal = new DecisionJournal(dir, this.journalOptions);
    this.writer.useJournal(this.journal);
  }

  /** Ok while writes can be committed; the reason when they cannot (the writer's thread died). */
  health(): { ok: boolean; reason?: string } {
    return this.writer.health();
  }

  /** Commits every queued write, then closes the writer and the connection. */
  async close(): Promise<void> {
    await this.writer.close();
    this.journal?.close();
    await this.walWatch?.close();
    if (this.db.open) this.db.close();
  }
}
