import type { FeatureMap, FeatureValue } from "../../core/types.js";
import {
  checkedPropensity,
  inFile,
  invalidLog,
  type LoggedRound,
  type LoggedRounds,
  type RoundCandidate,
} from "../logged-round.js";

/**
 * Vowpal Wabbit decision service JSON (DSJSON; Azure Personalizer's export): one JSON object per line.
 * `a` lists 1-based action ids in the order chosen (a[0] was served), `p` the probabilities aligned with
 * `a`, `c._multi` the action features in action-id order, the rest of `c` the shared features;
 * `_label_cost` is the cost of the served action, reward = −cost (Personalizer's convention).
 * Lines without a label (unjoined events, or `_skipLearn`) are counted in `skipped`.
 *
 * Multi-slot (CCB) events (Personalizer's multi-slot rank) carry `c._slots` (each slot's `_id` and features)
 * and one `_outcomes` entry per slot: its `_label_cost`, and `_a`/`_p`, 0-based indices into `c._multi` in the
 * order chosen with their probabilities; a slot's candidates are the actions in its `_a` (those earlier slots
 * did not take). Each labelled slot is a round of its own, shaped as Loopwise logs a live multi-slot rank
 * (app/personalizer-mapping.ts): the shared features plus `slot.id` and the slot's features under `slot.`, the
 * slot's candidates in `c._multi` order, position 0.
 */
interface DsjsonEvent {
  _label_cost?: number;
  _label_probability?: number;
  _label_Action?: number;
  _labelIndex?: number;
  _skipLearn?: boolean;
  a?: number[];
  p?: number[];
  c?: Record<string, unknown> & { _multi?: unknown[]; _slots?: unknown[] };
  _outcomes?: unknown[];
}

interface DsjsonOutcome {
  _label_cost?: unknown;
  _id?: unknown;
  _a?: unknown;
  _p?: unknown;
}

/** One labelled round of a line; `slot` for a multi-slot event's (its index, and its outcome's `_id` if any). */
export interface DsjsonRound {
  round: LoggedRound;
  slot?: { index: number; id?: string };
}

export function parseDsjson(text: string, options: { source?: string } = {}): LoggedRounds {
  const rounds = new RoundsReader();
  for (const [lineNo, line] of text.split(/\r?\n/).entries()) rounds.add(line, lineNo + 1);
  return rounds.result(options.source ?? "(text)");
}

/**
 * The same rounds from files read line by line, one at a time (`open` gives a file's lines): an export of many
 * files, or one larger than a string can hold. A bad line's error names its file.
 */
export async function readDsjsonFiles(
  files: readonly string[],
  open: (file: string) => AsyncIterable<string>,
  source: string,
): Promise<LoggedRounds> {
  const rounds = new RoundsReader();
  for (const file of files) {
    let lineNo = 0;
    try {
      for await (const line of open(file)) rounds.add(line, ++lineNo);
    } catch (e) {
      throw inFile(file, e);
    }
  }
  return rounds.result(source);
}

/** Rounds and skip counts gathered line by line. */
class RoundsReader {
  private readonly rounds: LoggedRound[] = [];
  private readonly skipped: Record<string, number> = {};
  private readonly skip = (why: string) => {
    this.skipped[why] = (this.skipped[why] ?? 0) + 1;
  };

  add(line: string, lineNo: number): void {
    if (line.trim() === "") return;
    for (const r of lineRounds(parseLine(line, lineNo), lineNo, this.skip)) this.rounds.push(r.round);
  }

  result(source: string): LoggedRounds {
    const { rounds, skipped } = this;
    const notes = [`${rounds.length} labelled rounds (an event's, or one per labelled slot of a multi-slot event)`];
    const left = Object.values(skipped).reduce((s, v) => s + v, 0);
    if (left > 0) notes.push(`${left} events skipped (${JSON.stringify(skipped)})`);
    return { source: `dsjson:${source}`, rounds, skipped, notes };
  }
}

export function parseLine(line: string, lineNo: number): DsjsonEvent {
  try {
    return JSON.parse(line) as DsjsonEvent;
  } catch {
    throw invalidLog(`DSJSON line ${lineNo}: not valid JSON`);
  }
}

/** The labelled rounds of one event (none when it is not labelled: `skip` says why, once per round missed). */
export function lineRounds(event: DsjsonEvent, lineNo: number, skip: (why: string) => void): DsjsonRound[] {
  if (event._skipLearn) {
    skip("skip_learn");
    return [];
  }
  if (Array.isArray(event._outcomes)) return slotRounds(event, event._outcomes, lineNo, skip);
  if (typeof event._label_cost !== "number") {
    skip("no_label");
    return [];
  }
  return [{ round: roundOf(event, lineNo) }];
}

function roundOf(event: DsjsonEvent, lineNo: number): LoggedRound {
  const where = `DSJSON line ${lineNo}`;
  const candidates = actionsOf(event, where);
  const a = event.a;
  const p = event.p;
  if (!Array.isArray(a) || !Array.isArray(p) || a.length !== p.length) {
    throw invalidLog(`${where}: "a" and "p" must be arrays of the same length`);
  }
  const probabilities = new Float64Array(candidates.length);
  a.forEach((actionId, r) => {
    probabilities[actionId - 1] = p[r] as number;
  });
  const served = (event._label_Action ?? a[0]) as number;
  const action = served - 1;
  if (!(action >= 0 && action < candidates.length)) throw invalidLog(`${where}: action ${served} is not in c._multi`);
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

function actionsOf(event: DsjsonEvent, where: string): RoundCandidate[] {
  const multi = event.c?._multi;
  if (!Array.isArray(multi) || multi.length === 0) throw invalidLog(`${where}: c._multi (the actions) is missing`);
  return multi.map((m, j) => {
    const features = flatten(m, "");
    const id = typeof features.id === "string" ? features.id : String(j + 1);
    return { id, features };
  });
}

function slotRounds(
  event: DsjsonEvent,
  outcomes: unknown[],
  lineNo: number,
  skip: (why: string) => void,
): DsjsonRound[] {
  const where = `DSJSON line ${lineNo}`;
  const actions = actionsOf(event, where);
  const { _multi: _m, _slots: slots, ...shared } = event.c ?? {};
  const context = flatten(shared, "");
  const rounds: DsjsonRound[] = [];
  for (const [index, value] of outcomes.entries()) {
    const o = (typeof value === "object" && value !== null ? value : {}) as DsjsonOutcome;
    if (typeof o._label_cost !== "number") {
      skip("no_label");
      continue;
    }
    const at = `${where}, _outcomes[${index}]`;
    const a = o._a;
    const p = o._p;
    if (!Array.isArray(a) || !Array.isArray(p) || a.length === 0 || a.length !== p.length)
      throw invalidLog(`${at}: "_a" and "_p" must be non-empty arrays of the same length`);
    const inSlot = new Map<number, number>();
    for (const [r, j] of a.entries()) {
      if (!Number.isInteger(j) || j < 0 || j >= actions.length)
        throw invalidLog(`${at}: action ${j} is not in c._multi`);
      inSlot.set(j as number, p[r] as number);
    }
    const members = actions.flatMap((_, j) => (inSlot.has(j) ? [j] : []));
    const given = Array.isArray(slots) ? (slots[index] as unknown) : undefined;
    const slot = (typeof given === "object" && given !== null ? given : {}) as Record<string, unknown>;
    const slotId = typeof slot._id === "string" ? slot._id : typeof o._id === "string" ? o._id : String(index);
    // As a live multi-slot rank logs it: `slot.id`, and the slot's own features under `slot.`.
    const slotContext: FeatureMap = { ...context, "slot.id": slotId };
    for (const [k, v] of Object.entries(flatten(slot, ""))) slotContext[`slot.${k}`] = v;
    const served = members.indexOf(a[0] as number);
    rounds.push({
      slot: typeof o._id === "string" ? { index, id: o._id } : { index },
      round: {
        context: slotContext,
        candidates: members.map((j) => actions[j] as RoundCandidate),
        position: 0,
        action: served,
        propensity: checkedPropensity(p[0] as number, at),
        probabilities: Float64Array.from(members, (j) => inSlot.get(j) as number),
        placedBefore: [],
        reward: 0 - o._label_cost, // 0 - x, not -x: a cost of 0 is a reward of +0
      },
    });
  }
  return rounds;
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
