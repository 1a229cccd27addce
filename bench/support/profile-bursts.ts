import { frameLabel, loadProfile } from "./cpu-profile.js";

/**
 * The longest stretches the event loop never went idle, from a CPU profile (`--cpu-prof`):
 * `node --import tsx bench/support/profile-bursts.ts PROFILE.cpuprofile [count] [top]`. A stretch is a run of
 * samples none of which is `(idle)` (V8 marks a sample idle while the loop waits in epoll); for each of the
 * `count` longest it prints its start (s from the profile's start), its wall length, and the functions with the
 * most samples in it (inclusive: anywhere on the stack; ours and the VM's GC/program markers). Finds the long
 * main-thread jobs without needing a stall to be caught by a ticker (bench/support/profile-window.ts): on a
 * loaded machine a wall stall is mostly run-queue wait, while a long busy stretch is our own code.
 * A stretch's wall length still includes time the thread was descheduled inside it; its sample count is the
 * better measure of the CPU it took (one sample per `--cpu-prof-interval`, 1 ms by default).
 * At saturation the loop is rarely idle, so it also prints, per function of ours, its longest run of
 * consecutive samples with it on the stack: a job that holds the loop (a snapshot copy, a sliced close that
 * is not sliced) shows as one long run, where a request handler's runs are a few samples each (a run can join
 * two back-to-back calls of the same function, so read it as an upper bound).
 */
const [path, countArg, topArg] = process.argv.slice(2);
if (!path) throw new Error("usage: profile-bursts.ts PROFILE.cpuprofile [count] [top]");
const count = Number(countArg ?? 10);
const top = Number(topArg ?? 10);
const { profile, byId, parent, times } = loadProfile(path);
const isIdle = (i: number) => byId.get(profile.samples[i] as number)?.callFrame.functionName === "(idle)";

/** Busy runs as [first sample, last sample], longest wall first. */
const runs: [number, number][] = [];
let start = -1;
for (let i = 0; i <= times.length; i++) {
  const busy = i < times.length && !isIdle(i);
  if (busy && start < 0) start = i;
  if (!busy && start >= 0) {
    runs.push([start, i - 1]);
    start = -1;
  }
}
const wallUs = ([a, b]: [number, number]) => (times[b] as number) - (times[a - 1] ?? (times[a] as number));
runs.sort((x, y) => wallUs(y) - wallUs(x));

const label = frameLabel;
const ours = (l: string) => /src\/|\(garbage|\(program/.test(l);

for (const run of runs.slice(0, count)) {
  const [a, b] = run;
  const inclusive = new Map<string, number>();
  for (let i = a; i <= b; i++) {
    const seen = new Set<string>();
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (node) seen.add(label(node));
    }
    for (const l of seen) inclusive.set(l, (inclusive.get(l) ?? 0) + 1);
  }
  const samples = b - a + 1;
  const at = (((times[a] as number) - profile.startTime) / 1e6).toFixed(2);
  console.log(`busy from ${at} s for ${(wallUs(run) / 1000).toFixed(0)} ms wall, ${samples} samples`);
  for (const [l, c] of [...inclusive]
    .filter(([l]) => ours(l))
    .sort((x, y) => y[1] - x[1])
    .slice(0, top))
    console.log(`  ${((100 * c) / samples).toFixed(0).padStart(3)}% ${l}`);
}

/** Per function of ours: the longest run of consecutive samples with it anywhere on the stack. */
const longest = new Map<string, { samples: number; at: number; wallMs: number }>();
const open = new Map<string, number>(); // label -> first sample of its current run
const stackOf = (i: number) => {
  const seen = new Set<string>();
  for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
    const node = byId.get(id);
    if (node && /src\//.test(node.callFrame.url)) seen.add(label(node));
  }
  return seen;
};
for (let i = 0; i <= times.length; i++) {
  const stack = i < times.length ? stackOf(i) : new Set<string>();
  for (const [l, first] of open) {
    if (stack.has(l)) continue;
    open.delete(l);
    const samples = i - first;
    if (samples > (longest.get(l)?.samples ?? 0)) {
      const wallMs = ((times[i - 1] as number) - (times[first - 1] ?? (times[first] as number))) / 1000;
      longest.set(l, { samples, at: ((times[first] as number) - profile.startTime) / 1e6, wallMs });
    }
  }
  for (const l of stack) if (!open.has(l)) open.set(l, i);
}
console.log("\nlongest consecutive runs per function (samples, wall ms, start s):");
for (const [l, r] of [...longest].sort((x, y) => y[1].samples - x[1].samples).slice(0, top * 3))
  console.log(`  ${String(r.samples).padStart(6)} ${r.wallMs.toFixed(0).padStart(6)} ms @${r.at.toFixed(2)} s  ${l}`);
