import { type Clock, systemClock } from "../core/clock.js";
import {
  buildDataset,
  type SessionClick,
  type SessionDataset,
  type SessionSequence,
  sessionsFromClicks,
} from "./session-dataset.js";
import { SessionModel, type SessionScorer, type StateArray, type Vocabulary, vocabulary } from "./session-model.js";

/** Training input: clicks, ready-made sessions (oldest item first), or a dataset built once and shared. */
export type TrainInput = SessionDataset | readonly SessionSequence[] | Iterable<SessionClick>;

export type Params = Record<string, number | string | boolean>;

export interface TrainOptions {
  /** Model name (defaults to the registry name). */
  name?: string;
  version?: string;
  /** Stamps trainedAt; pass one in so tests and replays are deterministic. */
  clock?: Clock;
  /** Hyper-parameters overriding the family's defaults. */
  params?: Params;
}

/** One model family: how to train its scorer and how to rebuild it from saved arrays. */
export interface ModelFamily {
  readonly family: string;
  readonly defaults: Params;
  scorer(data: SessionDataset, params: Params): SessionScorer;
  restore(params: Params, arrays: Record<string, StateArray>, vocab: Vocabulary): SessionScorer;
}

export function toDataset(input: TrainInput): SessionDataset {
  if ((input as SessionDataset).kind === "session-dataset") return input as SessionDataset;
  const list = Array.isArray(input) ? (input as readonly unknown[]) : Array.from(input as Iterable<SessionClick>);
  if (list.length > 0 && Array.isArray((list[0] as SessionSequence).items)) {
    return buildDataset(list as readonly SessionSequence[]);
  }
  return buildDataset(sessionsFromClicks(list as SessionClick[]));
}

export function trainFamily(fam: ModelFamily, input: TrainInput, options: TrainOptions = {}): SessionModel {
  const data = toDataset(input);
  const params = { ...fam.defaults, ...options.params };
  const scorer = fam.scorer(data, params);
  return new SessionModel({
    name: options.name ?? fam.family,
    ...(options.version ? { version: options.version } : {}),
    trainedAt: (options.clock ?? systemClock).now(),
    vocab: vocabulary(data.itemIds, data.itemClicks),
    scorer,
  });
}

/** Reads a number parameter (saved params are JSON, so they are checked when rebuilt). */
export function num(params: Params, key: string): number {
  const v = Object.hasOwn(params, key) ? params[key] : undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`model parameter ${key} must be a number`);
  return v;
}

export function str(params: Params, key: string): string {
  const v = Object.hasOwn(params, key) ? params[key] : undefined;
  if (typeof v !== "string") throw new Error(`model parameter ${key} must be a string`);
  return v;
}

/** Gets a saved array, checking its kind. */
export function arr<T extends StateArray>(
  arrays: Record<string, StateArray>,
  key: string,
  kind: new (n: number) => T,
): T {
  const a = arrays[key];
  if (!(a instanceof kind)) throw new Error(`model array ${key} missing or not a ${kind.name}`);
  return a;
}
