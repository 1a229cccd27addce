import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  closeSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { realisticDecision } from "../../decisions/test-fixtures.js";
import { DecisionJournal, readSegment, segmentsToReplay } from "./decision-journal.js";
import { transitDecision } from "./decision-store-sqlite.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "loopwise-journal-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith(".jnl"));
const settle = () => new Promise((r) => setTimeout(r, 50)); // the journal unlinks off the event loop

describe("the decision journal", () => {
  it("reads back every field and byte of what it wrote, in write order", () => {
    const dir = tempDir();
    const journal = new DecisionJournal(dir);
    const written = [0, 1, 2].map((i) => transitDecision(realisticDecision(i)));
    for (const d of written) journal.append(d);
    const [segment] = segments(dir);
    const { decisions, torn } = readSegment(join(dir, segment as string));
    expect(torn).toBe(false);
    expect(decisions).toEqual(written);
    expect(decisions[2]?.bytes.byteOffset).toBe(0); // owns its buffer: transferable to the writer's thread
  });

  it("ends a segment's replay at a torn or corrupt frame (a crash mid-write), keeping the frames before it", () => {
    const dir = tempDir();
    const journal = new DecisionJournal(dir);
    const written = [0, 1, 2].map((i) => transitDecision(realisticDecision(i)));
    for (const d of written) journal.append(d);
    const path = join(dir, segments(dir)[0] as string);
    const whole = readFileSync(path);
    truncateSync(path, whole.byteLength - 5);
    expect(readSegment(path)).toEqual({ decisions: written.slice(0, 2), torn: true });
    // One flipped byte inside the second frame's record: its checksum fails, and so does everything after it.
    const flipped = Buffer.from(whole);
    const second = 8 + flipped.readUInt32LE(0) + 100;
    flipped[second] = (flipped[second] as number) ^ 0xff;
    writeFileSync(path, flipped);
    expect(readSegment(path)).toEqual({ decisions: written.slice(0, 1), torn: true });
    // A few stray bytes after whole frames (a frame head cut short) also count as torn.
    writeFileSync(path, whole);
    appendFileSync(path, Buffer.from([1, 2, 3]));
    expect(readSegment(path)).toEqual({ decisions: written, torn: true });
  });

  it("deletes a full segment once every record in it committed, and keeps one with a failed commit", async () => {
    const dir = tempDir();
    const journal = new DecisionJournal(dir, { segmentBytes: 1 }); // every record starts a new segment
    const tickets = [0, 1, 2, 3].map((i) => journal.append(transitDecision(realisticDecision(i))));
    expect(segments(dir)).toHaveLength(4);
    journal.settled(tickets[0] as never, true);
    journal.settled(tickets[1] as never, false); // its commit failed: the next start replays it
    journal.settled(tickets[3] as never, true); // the current segment: not full yet, so kept
    await settle();
    const left = segments(dir);
    expect(left).toHaveLength(3);
    expect(left.map((n) => readSegment(join(dir, n)).decisions[0]?.decisionId)).toEqual(["dec-1", "dec-2", "dec-3"]);
    journal.settled(tickets[2] as never, true);
    journal.close(); // the writer closed first: everything in the last segment committed
    await settle();
    expect(segments(dir).map((n) => readSegment(join(dir, n)).decisions[0]?.decisionId)).toEqual(["dec-1"]);
    expect(journal.stats()).toEqual({ written: 4, committed: 3, failed: 1, segmentsDeleted: 2 });
  });

  it("starts a new segment after a failed write, so no later record sits behind a torn frame", () => {
    const dir = tempDir();
    const journal = new DecisionJournal(dir);
    journal.append(transitDecision(realisticDecision(0)));
    // The file's descriptor goes bad under it (as a disk error would fail the write): the append throws.
    closeSync((journal as unknown as { current: { fd: number } }).current.fd);
    expect(() => journal.append(transitDecision(realisticDecision(1)))).toThrow();
    journal.append(transitDecision(realisticDecision(2)));
    const ids = segments(dir)
      .sort()
      .map((n) => readSegment(join(dir, n)).decisions.map((d) => d.decisionId));
    expect(ids).toEqual([["dec-0"], ["dec-2"]]);
  });

  it("replays the segments of this pid's earlier runs and of dead processes, not those of another live process", () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ["-e", ""]).pid as number; // exited: its pid is free
    const names = [
      `${process.pid}-a0000001-000001.jnl`,
      `${process.pid}-a0000001-000000.jnl`,
      `${dead}-a0000000-000000.jnl`,
      `${process.ppid}-a0000002-000000.jnl`, // our parent: alive, it commits its own
      "notes.txt",
    ];
    for (const n of names) writeFileSync(join(dir, n), "");
    expect(segmentsToReplay(dir)).toEqual([
      join(dir, `${dead}-a0000000-000000.jnl`),
      join(dir, `${process.pid}-a0000001-000000.jnl`),
      join(dir, `${process.pid}-a0000001-000001.jnl`),
    ]);
    expect(segmentsToReplay(join(dir, "missing"))).toEqual([]);
    // A journal this process still has open (a second store on the same dir): its segments are not an earlier run's.
    const open = new DecisionJournal(dir);
    open.append(transitDecision(realisticDecision(0)));
    const twin = new DecisionJournal(dir); // opened in the same millisecond: its own files
    twin.append(transitDecision(realisticDecision(1)));
    expect(segments(dir).filter((n) => n.startsWith(`${process.pid}-`))).toHaveLength(4);
    expect(segmentsToReplay(dir)).toHaveLength(3);
    open.close();
    twin.close();
    expect(segmentsToReplay(dir)).toHaveLength(5); // closed with records not committed: files kept, now replayed
  });
});
