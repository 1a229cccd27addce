import type { DecisionFacts } from "./decision-facts.js";
import type { JoinConfig } from "./join-config.js";

/** Per-slot join status codes of `joinFacts` (the `JoinStatus` of reward-join.ts, as bytes). */
export const SLOT_JOINED = 1;
export const SLOT_DEFAULTED = 2;
export const SLOT_PENDING = 3;
export const SLOT_NOT_ACTIVATED = 4;

export interface JoinedFacts {
  /** One of the SLOT_* codes per slot. */
  status: Uint8Array;
  /** The joined reward per slot; NaN while pending or never activated. */
  reward: Float64Array;
}

/**
 * The reward join of reward-join.ts (`joinRewards`), slot by slot on columns: the window opens at
 * activation and lasts `windowMs`; the slot's counted rewards (late and ignored ones are never in the
 * facts) give `joined` with the first to arrive or their sum, in arrival order (reward-reducer.ts); none and the
 * window closed at `now` gives `defaulted` with the default reward; else `pending`. Never-activated
 * decisions are `not_activated`. The contract test checks it against `joinRewards` on the same logs.
 */
export function joinFacts(f: DecisionFacts, config: JoinConfig, now: number): JoinedFacts {
  const slots = f.position.length;
  const status = new Uint8Array(slots);
  const reward = new Float64Array(slots).fill(Number.NaN);
  const earliest = config.aggregation === "earliest";
  for (let d = 0; d < f.decisions; d++) {
    const start = f.windowStart[d] as number;
    const active = !Number.isNaN(start);
    const closed = now >= start + config.windowMs;
    for (let s = f.slotStart[d] as number; s < (f.slotStart[d + 1] as number); s++) {
      const r0 = f.rewardStart[s] as number;
      const r1 = f.rewardStart[s + 1] as number;
      if (!active) {
        status[s] = SLOT_NOT_ACTIVATED;
      } else if (r1 > r0) {
        status[s] = SLOT_JOINED;
        if (earliest) reward[s] = f.rewardValue[r0] as number;
        else {
          let sum = 0;
          for (let r = r0; r < r1; r++) sum += f.rewardValue[r] as number;
          reward[s] = sum;
        }
      } else if (closed) {
        status[s] = SLOT_DEFAULTED;
        reward[s] = config.defaultReward;
      } else {
        status[s] = SLOT_PENDING;
      }
    }
  }
  return { status, reward };
}
