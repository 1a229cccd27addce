import { readFileSync } from "node:fs";
import { frameLabel, loadProfile } from "./cpu-profile.js";

/**
 * What the event loop was doing during each stall: `node --import tsx bench/support/profile-window.ts
 * PROFILE.cpuprofile STALLS.txt [top]`, where STALLS.txt holds the `STALL ... ms @µs` lines of a bench server run
 * with `LOOPWISE_BENCH_STALLS=1` and `--cpu-prof` (bench/support/stall-trace.ts). For each stall it prints the
 * functions with the most samples inside the stall's window, inclusive (any frame on the stack) and self.
 */
const [profilePath, stallsPath, topArg] = process.argv.slice(2);
if (!profilePath || !stallsPath) throw new Error("usage: profile-window.ts PROFILE.cpuprofile STALLS.txt [top]");
const top = Number(topArg ?? 8);
const { profile, byId, parent, times } = loadProfile(profilePath);

const label = frameLabel;

for (const line of readFileSync(stallsPath, "utf8").split("\n")) {
  const m = /STALL (\S+) (\d+) ms @(\d+)/.exec(line);
  if (!m) continue;
  const end = Number(m[3]);
  const start = end - Number(m[2]) * 1000;
  const inclusive = new Map<string, number>();
  const self = new Map<string, number>();
  let count = 0;
  for (let i = 0; i < times.length; i++) {
    const at = times[i] as number;
    if (at < start || at > end) continue;
    count++;
    let id: number | undefined = profile.samples[i];
    const leaf = byId.get(id as number);
    if (leaf) self.set(label(leaf), (self.get(label(leaf)) ?? 0) + 1);
    const seen = new Set<string>();
    while (id !== undefined) {
      const node = byId.get(id);
      if (node) seen.add(label(node));
      id = parent.get(id);
    }
    for (const l of seen) inclusive.set(l, (inclusive.get(l) ?? 0) + 1);
  }
  const best = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([l, c]) => `    ${((100 * c) / Math.max(1, count)).toFixed(0).padStart(3)}% ${l}`)
      .join("\n");
  const interesting = new Map([...inclusive].filter(([l]) => /src\/|\(garbage|\(program|\(idle/.test(l)));
  console.log(`stall at ${m[1]} s, ${m[2]} ms (${count} samples)\n  inclusive (ours):\n${best(interesting)}`);
  console.log(`  self:\n${best(self)}`);
}
