import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * What each thread of a process waits on, sampled from Linux's /proc: the tool that found the soak's long log
 * commits (stop 27: the writer's thread in D state in `blkdev_issue_discard` under `ext4_truncate`, the WAL's
 * truncation TRIMmed on a `discard` mount), where CPU profiles and the writer trace saw only "blocked".
 *
 *   node --import tsx bench/support/thread-sampler.ts sample PID OUT.json [periodMs=2]
 *     every periodMs until PID exits: each thread's state and wchan (/proc/PID/task/TID/{stat,wchan}), kept as
 *     runs of one (state, wchan), with the kernel stack of the run's first sample when the thread was in D
 *     (uninterruptible: disk, a lock in the kernel) or asleep somewhere other than a futex or epoll (root only).
 *   node --import tsx bench/support/thread-sampler.ts holds OUT.json TRACE_DIR [minMs=100]
 *     for each log writer hold over minMs in a writer trace (LOOPWISE_WRITER_TRACE=TRACE_DIR, writer-trace.ts
 *     `long:<kind>:at`), the runs of every thread inside it that were not idle, with their stacks.
 *
 * The sampler costs CPU (a read of three small files per thread per sample): throughput drops ~10-15 % beside
 * a saturated server on 2 cores; compare waits, not throughput, in a sampled run.
 */
interface Run {
  tid: number;
  state: string;
  wchan: string;
  from: number;
  to: number;
  stack?: string;
}

const IDLE_WCHAN = new Set(["futex_do_wait", "futex_wait_queue", "do_epoll_wait", "0"]);

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

async function sample(pid: number, out: string, periodMs: number): Promise<void> {
  const open = new Map<number, Run>();
  const done: Run[] = [];
  while (existsSync(`/proc/${pid}`)) {
    const now = Date.now();
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      break;
    }
    for (const t of tids) {
      const tid = Number(t);
      const stat = read(`/proc/${pid}/task/${t}/stat`);
      if (!stat) continue;
      const state = stat.charAt(stat.lastIndexOf(")") + 2);
      const wchan = read(`/proc/${pid}/task/${t}/wchan`) ?? "?";
      const run = open.get(tid);
      if (run && run.state === state && run.wchan === wchan) {
        run.to = now;
        continue;
      }
      if (run) done.push(run);
      const next: Run = { tid, state, wchan, from: now, to: now };
      if (state === "D" || (state === "S" && !IDLE_WCHAN.has(wchan))) {
        const stack = read(`/proc/${pid}/task/${t}/stack`);
        if (stack) next.stack = stack;
      }
      open.set(tid, next);
    }
    await new Promise((r) => setTimeout(r, periodMs));
  }
  done.push(...open.values());
  // Short runs only matter when blocked in the kernel.
  const kept = done.filter((r) => r.to - r.from >= 20 || r.state === "D");
  writeFileSync(out, JSON.stringify({ pid, periodMs, runs: kept }));
  console.log(`${kept.length} runs of ${done.length} kept in ${out}`);
}

/** The top frames of a /proc stack, one line: `submit_bio_wait < blkdev_issue_discard < ...`. */
function frames(stack: string | undefined, n = 6): string {
  if (!stack) return "";
  return stack
    .trim()
    .split("\n")
    .slice(0, n)
    .map((line) => (line.split("] ")[1] ?? line).split("+")[0])
    .join(" < ");
}

function holds(samplesPath: string, traceDir: string, minMs: number): void {
  const { runs } = JSON.parse(readFileSync(samplesPath, "utf8")) as { runs: Run[] };
  for (const file of readdirSync(traceDir)) {
    const trace = JSON.parse(readFileSync(join(traceDir, file), "utf8")) as Record<string, number[]>;
    for (const key of Object.keys(trace)) {
      const m = /^long:(\w+):ms$/.exec(key);
      if (!m) continue;
      const kind = m[1] as string;
      const [ms, cpu, at] = [trace[key], trace[`long:${kind}:cpu`], trace[`long:${kind}:at`]] as number[][];
      if (!at) continue; // a trace from before `at` was recorded
      ms?.forEach((length, i) => {
        if (length < minMs) return;
        const end = at[i] as number;
        const start = end - length;
        console.log(`\n${kind} ${length.toFixed(0)} ms (writer CPU ${cpu?.[i]?.toFixed(0)} ms), ${file}`);
        const inside = runs.filter(
          (r) => r.to >= start && r.from <= end && !(r.state === "S" && IDLE_WCHAN.has(r.wchan)) && r.state !== "R",
        );
        for (const r of inside.sort((a, b) => a.from - b.from)) {
          const from = Math.max(r.from, start) - start;
          const to = Math.min(r.to, end) - start;
          console.log(
            `  tid ${r.tid} ${r.state} ${r.wchan.padEnd(24)} ${from.toFixed(0)}..${to.toFixed(0)} ms  ${frames(r.stack)}`,
          );
        }
      });
    }
  }
}

const [command, a, b, c] = process.argv.slice(2);
if (command === "sample" && a && b) await sample(Number(a), b, Number(c ?? 2));
else if (command === "holds" && a && b) holds(a, b, Number(c ?? 100));
else {
  console.error("usage: thread-sampler.ts sample PID OUT.json [periodMs] | holds OUT.json TRACE_DIR [minMs]");
  process.exit(2);
}
