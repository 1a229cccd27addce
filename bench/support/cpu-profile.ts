import { readFileSync } from "node:fs";

/** A V8 CPU profile (`--cpu-prof`), as the profile readers in bench/support need it. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface LoadedProfile {
  profile: Profile;
  byId: Map<number, ProfileNode>;
  /** Each node's caller (walk it for a sample's whole stack). */
  parent: Map<number, number>;
  /** Each sample's time, µs on the profile's clock. */
  times: number[];
}

export function loadProfile(path: string): LoadedProfile {
  const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const times: number[] = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) {
    t += d;
    times.push(t);
  }
  return { profile, byId, parent, times };
}

/** A frame as `function src/path.ts:line`. */
export function frameLabel(n: ProfileNode): string {
  const file = n.callFrame.url.replace(/^.*\/(src|bench|node_modules)\//, "$1/");
  return `${n.callFrame.functionName || "(anon)"} ${file}:${n.callFrame.lineNumber + 1}`;
}
