import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlink, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { EncodedDecision } from "./log-ops.js";

/**
 * The decision journal: the durability point of a rank whose decision id the server made itself (its id is new, so
 * no insert can be refused as a duplicate). The event loop appends the decision's bytes to an append-only file with
 * one `write` (in the OS's page cache when it returns: it survives kill -9 of the process, as the WAL's commits do
 * with `synchronous = NORMAL`) and answers; the log writer commits it to SQLite behind, in its own time, so a rank
 * never waits for a commit round trip to another thread (docs/scaling.md, "What keeps the p99 at 1,000 req/s").
 * Records not known to be committed are replayed at the next start (`replayJournal`), insert-or-keep by decision id,
 * so a record committed before the crash is kept once.
 *
 * Files: `<dir>/<pid>-<run>-<n>.jnl`, segments of at most `segmentBytes`. A segment is deleted (off the event loop)
 * once it is full and every record in it committed; a segment with a record whose commit failed is kept for the
 * next start. A frame is `[u32 payload length][u32 crc32 of the payload][payload]`, the payload
 * `[u16 header length][header: JSON of the decision's columns][the record's bytes]`; a torn or corrupt frame (a
 * crash of the machine mid-write) ends a segment's replay.
 *
 * Only with durability `process`: with `fsync` (power loss too) a journal write would need its own fsync, which
 * costs what the commit costs, so ranks wait for the commit as before.
 */
export interface JournalOptions {
  /** Bytes after which a new segment starts (default 16 MiB: ~1,500 decisions of 11 KiB). */
  segmentBytes?: number;
}

/** Records journaled, committed behind, whose commit failed (kept for the next start), and segments deleted. */
export interface JournalStats {
  written: number;
  committed: number;
  failed: number;
  segmentsDeleted: number;
}

/** Where a journaled record is: its segment, released when the record committed. */
export interface JournalTicket {
  segment: Segment;
  /** The record's bytes as written (a view into the frame): the caller may keep them, its own go to the writer's thread. */
  record: Uint8Array;
}

interface Segment {
  path: string;
  fd: number;
  bytes: number;
  /** Records written and not yet committed. */
  open: number;
  /** No more records go in (a newer segment took over, or the journal closed). */
  full: boolean;
  /** A record's commit failed: keep the file for the next start's replay. */
  keep: boolean;
}

const SUFFIX = ".jnl";
const FRAME_HEAD = 8;
/**
 * This process's open journals, by file-name prefix (`<pid>-<run>-`): a start in the same process never replays (and
 * deletes) the segments of a journal still writing, and two journals opened in the same millisecond get distinct
 * runs.
 */
const openRuns = new Set<string>();
let runsStarted = 0;

export class DecisionJournal {
  private readonly segmentBytes: number;
  /** Base-36 start time, then this process's journal count: names sort by start, and never collide. */
  private readonly run = `${Date.now().toString(36)}${(runsStarted++).toString(36).padStart(4, "0")}`;
  private current: Segment | undefined;
  private nextSegment = 0;
  private readonly counts = { written: 0, committed: 0, failed: 0, segmentsDeleted: 0 };

  constructor(
    private readonly dir: string,
    options: JournalOptions = {},
  ) {
    this.segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
    mkdirSync(dir, { recursive: true });
    openRuns.add(this.prefix);
  }

  private get prefix(): string {
    return `${process.pid}-${this.run}-`;
  }

  /** Appends the decision (durable when this returns); throws when the file cannot be written (nothing acknowledged). */
  append(decision: EncodedDecision): JournalTicket {
    const { frame, record } = encodeFrame(decision);
    let segment = this.current;
    if (!segment || segment.bytes >= this.segmentBytes) segment = this.startSegment();
    let written = 0;
    try {
      while (written < frame.byteLength) written += writeSync(segment.fd, frame, written);
    } catch (error) {
      // A part of the frame may be in the file (disk full mid-write): nothing more goes after it, so a replay, which
      // stops at the first torn frame, loses no record acknowledged later. The next append starts a new segment.
      this.current = undefined;
      segment.full = true;
      this.releaseIfDone(segment);
      throw error;
    }
    segment.bytes += frame.byteLength;
    segment.open++;
    this.counts.written++;
    return { segment, record };
  }

  /** The record's commit succeeded (`ok`) or failed (its segment is kept for the next start's replay). */
  settled(ticket: JournalTicket, ok: boolean): void {
    const segment = ticket.segment;
    segment.open--;
    if (ok) this.counts.committed++;
    else {
      this.counts.failed++;
      segment.keep = true;
    }
    this.releaseIfDone(segment);
  }

  stats(): JournalStats {
    return { ...this.counts };
  }

  /** Ends the current segment; it is deleted at once when every record in it committed (the writer closed first). */
  close(): void {
    openRuns.delete(this.prefix);
    const segment = this.current;
    this.current = undefined;
    if (!segment) return;
    segment.full = true;
    closeSync(segment.fd);
    segment.fd = -1;
    if (segment.open === 0 && !segment.keep) unlinkSync(segment.path);
  }

  private startSegment(): Segment {
    const previous = this.current;
    if (previous) {
      previous.full = true;
      this.releaseIfDone(previous);
    }
    const path = join(this.dir, `${this.prefix}${String(this.nextSegment++).padStart(6, "0")}${SUFFIX}`);
    const segment: Segment = { path, fd: openSync(path, "wx"), bytes: 0, open: 0, full: false, keep: false };
    this.current = segment;
    return segment;
  }

  private releaseIfDone(segment: Segment): void {
    if (!segment.full || segment.open > 0 || segment.fd === -1) return;
    closeSync(segment.fd);
    segment.fd = -1;
    if (segment.keep) return;
    this.counts.segmentsDeleted++;
    // Off the event loop: an unlink can take milliseconds (a `discard` mount trims the file's blocks synchronously).
    unlink(segment.path, () => {});
  }
}

function encodeFrame(d: EncodedDecision): { frame: Buffer; record: Uint8Array } {
  const header = Buffer.from(
    JSON.stringify([d.decisionId, d.timestamp, d.userId, d.policyId, d.activated, d.activatedAt]),
    "utf8",
  );
  const payloadBytes = 2 + header.byteLength + d.bytes.byteLength;
  const frame = Buffer.allocUnsafe(FRAME_HEAD + payloadBytes);
  frame.writeUInt32LE(payloadBytes, 0);
  frame.writeUInt16LE(header.byteLength, FRAME_HEAD);
  header.copy(frame, FRAME_HEAD + 2);
  const recordAt = FRAME_HEAD + 2 + header.byteLength;
  frame.set(d.bytes, recordAt);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEAD)), 4);
  return { frame, record: frame.subarray(recordAt) };
}

/** A segment's records in write order; `torn` when it ended in an incomplete or corrupt frame. */
export function readSegment(path: string): { decisions: EncodedDecision[]; torn: boolean } {
  const file = readFileSync(path);
  const decisions: EncodedDecision[] = [];
  let at = 0;
  while (at + FRAME_HEAD <= file.byteLength) {
    const length = file.readUInt32LE(at);
    const end = at + FRAME_HEAD + length;
    if (length < 2 || end > file.byteLength) return { decisions, torn: true };
    const payload = file.subarray(at + FRAME_HEAD, end);
    if (crc32(payload) !== file.readUInt32LE(at + 4)) return { decisions, torn: true };
    const headerBytes = payload.readUInt16LE(0);
    const [decisionId, timestamp, userId, policyId, activated, activatedAt] = JSON.parse(
      payload.subarray(2, 2 + headerBytes).toString("utf8"),
    ) as [string, number, string, string, boolean, number | null];
    // A copy that owns its buffer: the writer's thread takes it over (log-ops.ts `opTransfer`).
    const bytes = new Uint8Array(payload.subarray(2 + headerBytes));
    decisions.push({ decisionId, timestamp, userId, policyId, activated, activatedAt, bytes });
    at = end;
  }
  return { decisions, torn: at !== file.byteLength };
}

/**
 * The segments a new run replays, oldest first: every segment but those of another live process (a second engine
 * on the same data dir, or a CLI beside the server: the owner commits its own) and of a journal this process still
 * has open. Any other segment of this pid is from an earlier run (a container's server is often pid 1 after every
 * restart). A pid reused by an unrelated live process defers a dead run's segments to a later start: they are kept,
 * never lost.
 */
export function segmentsToReplay(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(SUFFIX));
  } catch {
    return [];
  }
  return names
    .filter((name) => {
      const [pid, run] = name.split("-");
      if (openRuns.has(`${pid}-${run}-`)) return false;
      return Number(pid) === process.pid || !isAlive(Number(pid));
    })
    .sort(bySegmentOrder)
    .map((name) => join(dir, name));
}

/** Runs in start order, then segments in write order (run ids begin with base-36 start times, of equal length for years). */
function bySegmentOrder(a: string, b: string): number {
  const [, runA = "", segA = ""] = a.split("-");
  const [, runB = "", segB = ""] = b.split("-");
  return runA === runB ? segA.localeCompare(segB) : runA.localeCompare(runB);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
