import { Counter, Gauge, type Registry } from "prom-client";
import type { Duty, DutyContext } from "./duty.js";

/** Lease name of the duty (the lead's naming: duty names are lease and consumer-group names). */
export const STREAM_TRIM = "stream-trim";

/**
 * `stream-trim`: every `workers.trimEvery`, drops each partition's entries that every consumer group has acked
 * (DecisionStream.trim: Redis XTRIM MINID at the groups' low-water mark), so the stream's memory stays bounded by
 * what the slowest duty still has to read; and reports each partition's length. Trimming never drops an entry a
 * group has not acked, so it needs no fenced write: two workers trimming at once (a stale holder) is harmless.
 * It runs under a lease anyway, so the work is done once, not once per worker.
 */
export function createStreamTrimDuty(ctx: DutyContext): Duty {
  const { stream } = ctx;
  const every = ctx.config.workers.trimEvery;
  const length = gauge(ctx.metrics.registry);
  const trimmed = counter(ctx.metrics.registry);
  let lastRun = Number.NEGATIVE_INFINITY;
  return {
    name: STREAM_TRIM,
    async start() {
      lastRun = Number.NEGATIVE_INFINITY; // trim at once: the worker before may have died long ago
    },
    async step(now) {
      if (now - lastRun < every) return "idle"; // not due: the runner waits longer before the next step
      lastRun = now;
      for (let p = 0; p < stream.partitions; p++) {
        const partition = String(p);
        // An empty partition has nothing to trim, and on Redis it may not exist yet (XINFO GROUPS refuses a
        // missing key), so it is only measured.
        const before = await stream.length(p);
        const dropped = before > 0 ? await stream.trim(p) : 0;
        if (dropped > 0) trimmed.inc({ partition }, dropped);
        length.set({ partition }, before - dropped);
      }
    },
    async stop() {},
  };
}

function gauge(registry: Registry): Gauge<"partition"> {
  const name = "loopwise_stream_length";
  return (
    (registry.getSingleMetric(name) as Gauge<"partition"> | undefined) ??
    new Gauge({
      name,
      help: "Entries retained on a decision stream partition (read at the stream-trim duty's last run)",
      labelNames: ["partition"],
      registers: [registry],
    })
  );
}

function counter(registry: Registry): Counter<"partition"> {
  const name = "loopwise_stream_trimmed_total";
  return (
    (registry.getSingleMetric(name) as Counter<"partition"> | undefined) ??
    new Counter({
      name,
      help: "Decision stream entries dropped by the stream-trim duty once every group had acked them",
      labelNames: ["partition"],
      registers: [registry],
    })
  );
}
