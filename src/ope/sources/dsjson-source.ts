import type { FeatureMap, FeatureValue } from "../../core/types.js";
import { checkedPropensity, type LoggedRound, type LoggedRounds, type RoundCandidate } from "../logged-round.js";

/**
 * Vowpal Wabbit decision service JSON (DSJSON; Azure Personalizer's export): one JSON object per line.
 * `a` lists 1-based action ids in the order chosen (a[0] was served), `p` the probabilities aligned with
 * `a`, `c._multi` the action features in action-id order, the rest of `c` the shared features;
 * `_label_cost` is the cost of the served action, reward = −cost (Personalizer's convention).
 * Single-slot CB events only: position 0, nothing placed before. Lines without a label (unjoined events,
 * or `_skipLearn`) are counted in `skipped`.
 */
interface DsjsonEvent {
  _label_cost?: number;
  _label_probability?: number;
  _label_Action?: number;
  _labelIndex?: number;
  _skipLearn?: boolean;
  a?: number[];
  p?: number[];
  c?: Record<string, unknown> & { _multi?: unknown[] };
}

export function parseDsjson(text: string, options: { source?: string } = {}): LoggedRounds {
  const rounds: LoggedRound[] = [];
  const skipped: Record<string, number> = {};
  const skip = (why: string) => {
    skipped[why] = (skipped[why] ?? 0) + 1;
  };
  for (const [lineNo, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === "") continue;
    let event: DsjsonEvent;
    try {
      event = JSON.parse(line) as DsjsonEvent;
    } catch {
      throw new Error(`DSJSON line ${lineNo + 1}: not valid JSON`);
    }
    if (event._skipLearn) skip("skip_learn");
    else if (typeof event._label_cost !== "number") skip("no_label");
    else rounds.push(roundOf(event, lineNo + 1));
  }
  const notes = [`${rounds.length} labelled events`];
  const left = Object.values(skipped).reduce((s, v) => s + v, 0);
  if (left > 0) notes.push(`${left} events skipped (${JSON.stringify(skipped)})`);
  return { source: `dsjson:${options.source ?? "(text)"}`, rounds, skipped, notes };
}

function roundOf(event: DsjsonEvent, lineNo: number): LoggedRound {
  const where = `DSJSON line ${lineNo}`;
  const multi = event.c?._multi;
  const a = event.a;
  const p = event.p;
  if (!Array.isArray(multi) || multi.length === 0) throw new Error(`${where}: c._multi (the actions) is missing`);
  if (!Array.isArray(a) || !Array.isArray(p) || a.length !== p.length) {
    throw new Error(`${where}: "a" and "p" must be arrays of the same length`);
  }
  const candidates: RoundCandidate[] = multi.map((m, j) => {
    const features = flatten(m, "");
    const id = typeof features.id === "string" ? features.id : String(j + 1);
    return { id, features };
  });
  const probabilities = new Float64Array(candidates.length);
  a.forEach((actionId, r) => {
    probabilities[actionId - 1] = p[r] as number;
  });
  const served = (event._label_Action ?? a[0]) as number;
  const action = served - 1;
  if (!(action >= 0 && action < candidates.length)) throw new Error(`${where}: action ${served} is not in c._multi`);
  const { _multi: _, ...shared } = event.c ?? {};
  return {
    context: flatten(shared, ""),
    candidates,
    position: 0,
    action,
    propensity: checkedPropensity(event._label_probability ?? (probabilities[action] as number), where),
    probabilities,
    placedBefore: [],
    reward: 0 - (event._label_cost as number), // 0 - x, not -x: a cost of 0 is a reward of +0
  };
}

/** VW namespaces (nested objects) become dotted names; arrays become `name[i]`; `_`-prefixed keys are metadata. */
function flatten(value: unknown, prefix: string, out: FeatureMap = {}): FeatureMap {
  if (value === null || value === undefined) return out;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) flatten(v, `${prefix}[${i}]`, out);
  } else if (typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k.startsWith("_")) continue;
      flatten(v, prefix === "" ? k : `${prefix}.${k}`, out);
    }
  } else if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") {
    out[prefix] = value as FeatureValue;
  }
  return out;
}
