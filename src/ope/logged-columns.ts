import type { FeatureMap } from "../core/types.js";
import type { DecisionFacts } from "../decisions/decision-facts.js";
import type { LoggedRound, LoggedRounds, RoundCandidate } from "./logged-round.js";
import type { TargetPolicy } from "./targets.js";

/**
 * A decision log ready for evaluation, as columns (the fast path for Loopwise's own log): the decisions'
 * narrow facts in log order and, per round, which slot of which decision it is and its joined reward.
 * Same rounds, same order and same rewards as `readDecisionLog` gives as objects, but no context and no
 * candidate ids (candidates are codes): only targets that read neither can be evaluated on it.
 */
export interface LoggedColumns {
  source: string;
  facts: DecisionFacts;
  /** Round i is slot `slot[i]` of decision `decision[i]` (indices into `facts`). */
  slot: Int32Array;
  decision: Int32Array;
  reward: Float64Array;
  skipped: Record<string, number>;
  notes: string[];
}

export type EvaluationLog = LoggedRounds | LoggedColumns;

export function isColumnar(log: EvaluationLog): log is LoggedColumns {
  return "facts" in log;
}

/** Number of rounds in either form. */
export function roundCount(log: EvaluationLog): number {
  return isColumnar(log) ? log.reward.length : log.rounds.length;
}

/** Target kinds that read only candidate counts, slots taken, logged probabilities or the round index. */
export const COLUMNAR_TARGET_KINDS: ReadonlySet<TargetPolicy["kind"]> = new Set(["uniform", "logging", "file"]);

/** Rounds by index, from objects or from columns. */
export interface RoundSource {
  readonly length: number;
  at(i: number): LoggedRound;
}

export function roundSource(log: EvaluationLog): RoundSource {
  if (!isColumnar(log)) return { length: log.rounds.length, at: (i) => log.rounds[i] as LoggedRound };
  return new ColumnRounds(log);
}

const NO_CONTEXT: FeatureMap = Object.freeze({});
const NONE: readonly number[] = Object.freeze([]);
/** Stands in for a candidate: columnar targets read only how many there are. */
const PLACEHOLDER: RoundCandidate = Object.freeze({ id: "" });

/**
 * One reused `LoggedRound` view, refilled per index: position, action, propensity, reward, the logger's
 * distribution (a view on the facts), slots taken before (from the decision's earlier slots) and
 * placeholder candidates of the right count. Valid until the next `at` (the distribution too: targets
 * read it at once and never keep it); never hand it to a target whose kind is not in
 * COLUMNAR_TARGET_KINDS.
 */
class ColumnRounds implements RoundSource {
  readonly length: number;
  private readonly placeholders: RoundCandidate[][] = [];
  private readonly scratch: Float64Array[] = [];
  private readonly view: LoggedRound = {
    context: NO_CONTEXT,
    candidates: [],
    position: 0,
    action: 0,
    propensity: 0,
    probabilities: undefined,
    placedBefore: NONE,
    reward: 0,
  };

  constructor(private readonly log: LoggedColumns) {
    this.length = log.reward.length;
  }

  at(i: number): LoggedRound {
    const f = this.log.facts;
    const s = this.log.slot[i] as number;
    const d = this.log.decision[i] as number;
    const k = (f.candidateStart[d + 1] as number) - (f.candidateStart[d] as number);
    const v = this.view;
    v.candidates = this.placeholders[k] ?? this.placeholdersOf(k);
    v.position = f.position[s] as number;
    v.action = f.action[s] as number;
    v.propensity = f.propensity[s] as number;
    v.reward = this.log.reward[i] as number;
    v.probabilities = f.hasProbabilities[s] === 1 ? this.probabilitiesOf(s, k) : undefined;
    const first = f.slotStart[d] as number;
    v.placedBefore = s === first ? NONE : Array.from(f.action.subarray(first, s));
    return v;
  }

  /** The logger's distribution copied into a scratch array per k (no allocation per round). */
  private probabilitiesOf(s: number, k: number): Float64Array {
    const f = this.log.facts;
    let out = this.scratch[k];
    if (!out) {
      out = new Float64Array(k);
      this.scratch[k] = out;
    }
    const p0 = f.probabilityStart[s] as number;
    for (let j = 0; j < k; j++) out[j] = f.probabilities[p0 + j] as number;
    return out;
  }

  private placeholdersOf(k: number): RoundCandidate[] {
    const list = Object.freeze(new Array<RoundCandidate>(k).fill(PLACEHOLDER)) as RoundCandidate[];
    this.placeholders[k] = list;
    return list;
  }
}
