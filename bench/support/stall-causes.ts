import { frameLabel, type LoadedProfile } from "./cpu-profile.js";
import type { ProbeGc, ProbeStall } from "./stall-probe.js";

/**
 * Names the cause of each event-loop block a stall probe saw (stall-probe.ts), from the server's CPU profile
 * (`--cpu-prof`) when there is one: each sample inside the block's window is charged to the outermost frame of
 * ours that matches a cause below (a timer's callback is charged to the duty it runs, a request to the route),
 * `(garbage collector)` to GC; the block's cause is the one with most samples. Without a profile, or when the
 * main thread was mostly not on a CPU, a GC pause covering half the block or the run queue names it. The
 * patterns are checked in order on the whole stack, outermost frame first.
 */
const CAUSES: readonly [string, RegExp][] = [
  ["policy save", /sliced-snapshot|sliced-policy-snapshot|snapshot-binary|snapshot-codec|snapshot-encoder/],
  ["policy registry", /policy-registry/],
  ["WAL watch", /wal-watch|wal-checkpointer/],
  ["learning (windows, updates)", /app\/learning|pending-window|reward-join|record-slabs/],
  ["reward request", /app\/reward|routes\/reward/],
  ["dashboard fold/minutes", /minute-|dashboard|tracked-decisions|shared-minutes|subscribe-activity/],
  ["metrics", /app\/metrics|prom-client|log-writer-metrics|live-heap|heap-budget/],
  ["log writer ack/queue", /log-writer|record-transit|writer-channel/],
  ["rank request", /app\/rank|routes\/rank|bandit\/|json-body|fastify|find-my-way|light-my-request/],
];

export interface Attributed extends ProbeStall {
  cause: string;
  /** Share of the block's profile samples charged to the cause (0 when named without a profile). */
  share: number;
}

export function attribute(
  stalls: readonly ProbeStall[],
  gcs: readonly ProbeGc[],
  profile: LoadedProfile | undefined,
): Attributed[] {
  return stalls.map((s) => {
    const startUs = s.endUs - s.ms * 1000;
    const gcMs = gcs
      .filter((g) => g.startUs < s.endUs && g.startUs + g.ms * 1000 > startUs)
      .reduce((sum, g) => sum + g.ms, 0);
    if (s.cpuMs < 0.5 * s.ms) {
      if (gcMs >= 0.5 * s.ms) return { ...s, cause: "GC (threads waiting for a core)", share: 0 };
      return { ...s, cause: s.runqMs >= 0.3 * s.ms ? "machine (run queue)" : "off CPU (blocked)", share: 0 };
    }
    if (profile) {
      const counts = samplesByCause(profile, startUs, s.endUs);
      const best = [...counts].sort((a, b) => b[1] - a[1])[0];
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      if (best && total > 0) return { ...s, cause: best[0], share: best[1] / total };
    }
    if (gcMs >= 0.5 * s.ms) return { ...s, cause: "GC", share: 0 };
    return { ...s, cause: "unattributed", share: 0 };
  });
}

function samplesByCause(p: LoadedProfile, startUs: number, endUs: number): Map<string, number> {
  const counts = new Map<string, number>();
  const memo = new Map<number, string>();
  for (let i = 0; i < p.times.length; i++) {
    const at = p.times[i] as number;
    if (at < startUs || at > endUs) continue;
    const leaf = p.profile.samples[i] as number;
    let cause = memo.get(leaf);
    if (cause === undefined) {
      cause = causeOf(p, leaf);
      memo.set(leaf, cause);
    }
    if (cause === "(idle)") continue;
    counts.set(cause, (counts.get(cause) ?? 0) + 1);
  }
  return counts;
}

function causeOf(p: LoadedProfile, leaf: number): string {
  const leafName = p.byId.get(leaf)?.callFrame.functionName;
  if (leafName === "(garbage collector)") return "GC";
  if (leafName === "(idle)") return "(idle)";
  const stack: string[] = [];
  for (let id: number | undefined = leaf; id !== undefined; id = p.parent.get(id)) {
    const node = p.byId.get(id);
    if (node) stack.push(frameLabel(node));
  }
  stack.reverse();
  for (const frame of stack) for (const [name, re] of CAUSES) if (re.test(frame)) return name;
  return leafName === "(program)" ? "(program: native, no JS frame)" : `other: ${stack.at(-1) ?? "?"}`;
}

/** Count, total and largest block and their main-thread CPU, per cause, largest total first. */
export function byCause(
  list: readonly Attributed[],
): Record<string, { count: number; totalMs: number; maxMs: number; cpuMs: number }> {
  const out: Record<string, { count: number; totalMs: number; maxMs: number; cpuMs: number }> = {};
  for (const s of list) {
    const row = out[s.cause] ?? { count: 0, totalMs: 0, maxMs: 0, cpuMs: 0 };
    row.count++;
    row.totalMs += s.ms;
    row.maxMs = Math.max(row.maxMs, s.ms);
    row.cpuMs += s.cpuMs;
    out[s.cause] = row;
  }
  const round = (x: number) => Math.round(x);
  return Object.fromEntries(
    Object.entries(out)
      .sort((a, b) => b[1].totalMs - a[1].totalMs)
      .map(([k, v]) => [
        k,
        { count: v.count, totalMs: round(v.totalMs), maxMs: round(v.maxMs), cpuMs: round(v.cpuMs) },
      ]),
  );
}

/** A client's request that took `ms`, ended at `endUs` (monotonic µs). */
export interface SlowRequest {
  endUs: number;
  ms: number;
}

/**
 * What slow requests waited for: a request is charged to the cause of the longest event-loop block inside its
 * time when the blocks inside it cover at least half of it, else to "commit wait or queue" (its log append, the
 * writer's commit and ack, or requests queued ahead of it: nothing blocked the loop that long).
 */
export function slowRequestCauses(slow: readonly SlowRequest[], blocks: readonly Attributed[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of slow) {
    const startUs = r.endUs - r.ms * 1000;
    let covered = 0;
    let longest: Attributed | undefined;
    for (const b of blocks) {
      const overlap = Math.min(r.endUs, b.endUs) - Math.max(startUs, b.endUs - b.ms * 1000);
      if (overlap <= 0) continue;
      covered += overlap / 1000;
      if (!longest || b.ms > longest.ms) longest = b;
    }
    const cause = longest && covered >= 0.5 * r.ms ? longest.cause : "commit wait or queue";
    out[cause] = (out[cause] ?? 0) + 1;
  }
  return out;
}
