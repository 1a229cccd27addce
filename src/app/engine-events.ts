import type { Logger } from "pino";
import type { UserEvent } from "../core/types.js";
import type { DecisionRecord, RewardOutcome, RewardRecord } from "../decisions/decision-record.js";

/** What the engine announces after it is durable: a logged decision, a stored reward, newly inserted events. */
export interface EngineEventMap {
  decision: DecisionRecord;
  reward: { reward: RewardRecord; outcome: RewardOutcome | undefined };
  events: readonly UserEvent[];
}

type Listener<K extends keyof EngineEventMap> = (payload: EngineEventMap[K]) => void;

/**
 * Typed, synchronous notifications from the use-cases to observers (the dashboard's activity view), in
 * place of decorating the stores: the request path pays one array check when nobody listens. A listener
 * that throws is logged and never fails the request that emitted.
 */
export class EngineEvents {
  private readonly listeners: { [K in keyof EngineEventMap]: Listener<K>[] } = {
    decision: [],
    reward: [],
    events: [],
  };

  constructor(private readonly logger?: Logger) {}

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof EngineEventMap>(type: K, listener: Listener<K>): () => void {
    const list = this.listeners[type] as Listener<K>[];
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  emit<K extends keyof EngineEventMap>(type: K, payload: EngineEventMap[K]): void {
    const list = this.listeners[type] as Listener<K>[];
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(payload);
      } catch (err) {
        this.logger?.error({ err, event: type }, "engine event listener failed");
      }
    }
  }
}
