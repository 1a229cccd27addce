import { Counter, Gauge, type Registry } from "prom-client";
import type { WriterStats } from "../storage/sqlite/log-writer.js";

/**
 * The log writer's queue on /metrics, read when scraped: how many writes (and bytes) wait for a commit,
 * how many batches and writes were committed, how many were refused (503) because the queue was full, what
 * the SQLite events' dedup window holds, and what the decision journal took and could not commit.
 */
export function registerLogWriterMetrics(registry: Registry, stats: () => WriterStats): void {
  new Gauge({
    name: "loopwise_log_writer_queued_writes",
    help: "Writes accepted by the log writer and not yet committed",
    registers: [registry],
    collect() {
      this.set(stats().queued);
    },
  });
  new Gauge({
    name: "loopwise_log_writer_queued_bytes",
    help: "Bytes held by writes waiting for the log writer",
    registers: [registry],
    collect() {
      this.set(stats().queuedBytes);
    },
  });
  new Gauge({
    name: "loopwise_log_writer_thread_heap_bytes",
    help: "Heap bytes of the log writer's thread (its own V8 isolate: used heap plus external memory)",
    registers: [registry],
    collect() {
      this.set(stats().threadHeapBytes);
    },
  });
  // The SQLite events' dedup window (storage/sqlite/event-inserts.ts): how many ids a retry is checked against,
  // and how far back they reach. 0 before the window is loaded and on PostgreSQL (every id, forever).
  new Gauge({
    name: "loopwise_log_writer_dedup_window_ids",
    help: "Event ids in the SQLite log writer's dedup window (a retry of an older event is logged again)",
    registers: [registry],
    collect() {
      this.set(stats().dedupWindow?.ids ?? 0);
    },
  });
  new Gauge({
    name: "loopwise_log_writer_dedup_window_oldest_age_seconds",
    help: "Age of the oldest event id in the SQLite log writer's dedup window (to about a second): the time it spans",
    registers: [registry],
    collect() {
      const oldestAt = stats().dedupWindow?.oldestAt;
      this.set(oldestAt === undefined ? 0 : Math.max(0, (Date.now() - oldestAt) / 1000));
    },
  });
  const counter = (name: string, help: string, read: (s: WriterStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(stats()));
      },
    });
  counter(
    "loopwise_log_writer_thread_cpu_seconds_total",
    "CPU time of the log writer's own thread (0 when the writer has none: in-memory logs, PostgreSQL)",
    (s) => s.threadCpuSeconds ?? 0,
  );
  counter("loopwise_log_writer_batches_total", "Transactions committed by the log writer", (s) => s.batches);
  counter("loopwise_log_writer_writes_total", "Writes committed (or failed alone) by the log writer", (s) => s.writes);
  counter(
    "loopwise_decision_journal_written_total",
    "Ranks answered at their decision journal write, before their commit (SQLite: storage.decisionJournal)",
    (s) => s.journal?.written ?? 0,
  );
  counter(
    "loopwise_decision_journal_commit_failures_total",
    "Journaled decisions whose commit failed: kept in the journal and replayed into the log at the next start",
    (s) => s.journal?.failed ?? 0,
  );
  counter(
    "loopwise_log_writer_rejected_total",
    "Writes refused because the log writer's queue was full",
    (s) => s.rejected,
  );
}
