/** Reward join semantics (configurable per deployment). */
export interface JoinConfig {
  /** How long after activation rewards count. Default 10 minutes. */
  windowMs: number;
  /** Reward applied when nothing arrives in the window. Default 0. */
  defaultReward: number;
  /** `earliest`: the first reward counts; `sum`: all rewards in the window add up. */
  aggregation: "earliest" | "sum";
}

export const DEFAULT_JOIN: JoinConfig = { windowMs: 10 * 60_000, defaultReward: 0, aggregation: "earliest" };
