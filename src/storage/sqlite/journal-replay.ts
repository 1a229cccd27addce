import { unlinkSync } from "node:fs";
import { LoopwiseError } from "../../core/errors.js";
import type { JournalReplay } from "./database.js";
import { readSegment, segmentsToReplay } from "./decision-journal.js";
import type { SqliteLogWriter } from "./log-writer.js";

/** Decisions in flight at once while replaying: well inside the writer's queue bound, a few group commits' worth. */
const REPLAY_CHUNK = 512;

/**
 * Replays an earlier run's decision journal into the log (decision-journal.ts), before anything is served:
 * insert-or-keep by decision id, so the decisions that run committed before it stopped are kept once. A segment is
 * deleted only after every decision in it committed; a failed commit fails the start with the segment's path, and
 * the segment stays for the next attempt.
 */
export async function replayJournal(dir: string, writer: SqliteLogWriter): Promise<JournalReplay> {
  const report: JournalReplay = { segments: 0, decisions: 0, present: 0, torn: 0 };
  for (const path of segmentsToReplay(dir)) {
    const { decisions, torn } = readSegment(path);
    try {
      for (let i = 0; i < decisions.length; i += REPLAY_CHUNK) {
        const chunk = decisions.slice(i, i + REPLAY_CHUNK);
        const inserted = await Promise.all(chunk.map((decision) => writer.write({ kind: "decision", decision })));
        report.present += inserted.filter((x) => !x).length;
      }
    } catch (error) {
      // The start fails rather than serve without acknowledged decisions; the operator decides (a full disk: free
      // space and restart; a record this version cannot read: keep the file aside and start without it).
      throw new LoopwiseError(
        "UNAVAILABLE",
        `replaying the decision journal ${path} into the log failed: ${(error as Error).message}. The file is kept; ` +
          "fix the cause and restart, or move the file out of the journal directory to start without its decisions",
      );
    }
    report.segments++;
    report.decisions += decisions.length;
    if (torn) report.torn++;
    unlinkSync(path);
  }
  return report;
}
