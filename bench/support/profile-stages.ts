import { readFileSync } from "node:fs";

/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`) of the rank use-case by stage: each sample is charged
 * to the stage of the function that `rank()` (src/app/rank.ts) was calling when it was taken, so
 * validation, features, candidates, policy, log append, learning and response add up to rank's time.
 * Samples outside rank (the bench loop, rewards, GC) are listed apart; of them, the log writer's hand-off after
 * rank's turn (posting the ops, ringing the writer's doorbell, settling its results) is named, its share given
 * against rank's own time. Samples are wall-clock: a call that wakes another thread (the doorbell) is charged
 * the time the woken thread held this one's core.
 *   node --cpu-prof --cpu-prof-dir=prof --import tsx bench/run.ts rank --quick
 *   node --import tsx bench/support/profile-stages.ts prof/*.cpuprofile [--rank-url=SUBSTR]
 */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The functions rank() calls, by stage; matched on the first frame under rank in each stack. */
const stageOf: [RegExp, string][] = [
  [/^(parse|safeParse|compiledRankRequest|parseOrThrow|validateCandidates)$/, "validation"],
  [/^(readFeatures|read)$/, "features"],
  [/^(generateCandidates|safeScores|enrich|enrichedCandidate)$/, "candidates/recommender"],
  [/^(rank|route|get)$/, "policy"],
  [/^(append|appendDecision)$/, "log append (record encode, queue)"],
  [/^(afterDecision|track)$/, "learning + metrics"],
  [/^(decisionRecord|responseOf|newId)$/, "record + response"],
];

/**
 * Work of rank's decision that runs after rank's own turn (outside its stack): the log writer's hand-off in the
 * `setImmediate` that posts the turn's ops and rings the writer's doorbell, and the settling of the results the
 * writer's thread published. Matched on the innermost frame of ours in log-writer.ts.
 */
const afterRank: [RegExp, string][] = [
  [/^(post|ring)$/, "after rank: log hand-off (post ops, doorbell)"],
  [/^(watchResults|takeRingResults|drain|settleOne|whenWritten|unrefWhenIdle)$/, "after rank: log results (settle)"],
];

function afterRankStage(
  id: number,
  byId: Map<number, ProfileNode>,
  parent: Map<number, number>,
  tree: string,
): string | undefined {
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const node = byId.get(cur)!;
    const url = node.callFrame.url;
    if (!/storage\/sqlite\/log-writer(-channel)?\.ts$/.test(url) || !url.includes(tree)) continue;
    const hit = afterRank.find(([re]) => re.test(node.callFrame.functionName));
    if (hit) return hit[1];
  }
  return undefined;
}

export function stageTable(profile: Profile, rankUrl = "app/rank.ts"): { stage: string; ms: number; share: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const isRank = (n: ProfileNode) =>
    (n.callFrame.functionName === "rank" || n.callFrame.functionName === "rankDecision") &&
    n.callFrame.url.endsWith("app/rank.ts") &&
    n.callFrame.url.includes(rankUrl);
  const totals = new Map<string, number>();
  const memo = new Map<number, string>();
  const classify = (id: number): string => {
    const hit = memo.get(id);
    if (hit) return hit;
    let child: ProfileNode | undefined;
    let stage = "outside rank";
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur)!;
      if (isRank(node)) {
        const name = child?.callFrame.functionName ?? "";
        stage = child
          ? (stageOf.find(([re]) => re.test(name))?.[1] ?? `rank → ${name || "(anonymous)"}`)
          : "rank (self)";
        break;
      }
      child = node;
    }
    if (stage === "outside rank") {
      const name = byId.get(id)!.callFrame.functionName;
      if (name === "(garbage collector)" || name === "(idle)" || name === "(program)") stage = name;
      // Two trees in one profile (--rank-url names one): only that tree's log writer.
      else stage = afterRankStage(id, byId, parent, rankUrl === "app/rank.ts" ? "" : rankUrl) ?? stage;
    }
    memo.set(id, stage);
    return stage;
  };
  profile.samples.forEach((id, i) => {
    const stage = classify(id);
    totals.set(stage, (totals.get(stage) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const inRank = [...totals]
    .filter(([s]) => !s.startsWith("outside") && !s.startsWith("(") && !s.startsWith("after rank"))
    .reduce((a, [, t]) => a + t, 0);
  return [...totals]
    .map(([stage, us]) => ({
      stage,
      ms: us / 1000,
      // Shares of rank's own time; the "after rank" lines are the log's hand-off outside it (same unit, ms).
      share: stage.startsWith("outside") || stage.startsWith("(") ? Number.NaN : us / inRank,
    }))
    .sort((a, b) => b.ms - a.ms);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // --rank-url=SUBSTR: only the rank.ts whose path contains SUBSTR (two trees profiled in one process).
  const rankUrl = process.argv.find((a) => a.startsWith("--rank-url="))?.slice(11) ?? "app/rank.ts";
  for (const file of process.argv.slice(2).filter((a) => !a.startsWith("--"))) {
    const rows = stageTable(JSON.parse(readFileSync(file, "utf8")) as Profile, rankUrl);
    console.log(`\n${file}\n| stage | ms | share of rank |\n|---|---:|---:|`);
    for (const r of rows)
      console.log(
        `| ${r.stage} | ${r.ms.toFixed(0)} | ${Number.isNaN(r.share) ? "" : `${(100 * r.share).toFixed(1)}%`} |`,
      );
  }
}
