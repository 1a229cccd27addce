import { joinConfigOf } from "../app/engine.js";
import type { EngineParts } from "../app/engine-parts.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import type { EventLog } from "../events/event-log.js";
import { type ActivityOptions, DashboardActivity } from "./activity.js";

const attached = new WeakMap<EngineParts, DashboardActivity>();

/**
 * Attaches the dashboard's activity view to an engine: the decision store and the event log in `parts`
 * are replaced by decorators that report what was durably appended (decisions, accepted rewards, new
 * events) to the activity, after the underlying write resolved. Nothing new is written anywhere.
 * Idempotent per engine (building two servers over one engine must not count twice). Call it before
 * traffic: use-cases read `parts.decisions` / `parts.events` on every call, so they see the decorators.
 */
export function tapEngine(parts: EngineParts, options: ActivityOptions = {}): DashboardActivity {
  const existing = attached.get(parts);
  if (existing) return existing;
  const activity = new DashboardActivity(parts.clock, joinConfigOf(parts.config), options);
  parts.decisions = tapDecisions(parts.decisions, activity);
  parts.events = tapEvents(parts.events, activity);
  attached.set(parts, activity);
  return activity;
}

/**
 * A Proxy rather than a wrapper class: every other member (optional ones such as `scanFacts`, adapter
 * extras) reaches the real store unchanged, with `this` bound to it.
 */
function decorate<T extends object>(target: T, overrides: Partial<T>): T {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof T];
      const value = Reflect.get(t, prop, t);
      if (typeof value !== "function") return value;
      let fn = bound.get(prop);
      if (!fn) {
        fn = (value as (...args: unknown[]) => unknown).bind(t);
        bound.set(prop, fn);
      }
      return fn;
    },
  });
}

export function tapDecisions(store: DecisionStore, activity: DashboardActivity): DecisionStore {
  return decorate(store, {
    append: async (record) => {
      const logged = await store.append(record);
      if (logged) activity.onDecision(record);
      return logged;
    },
    addReward: async (reward, windowMs) => {
      const outcome = await store.addReward(reward, windowMs);
      activity.onReward(reward, outcome);
      return outcome;
    },
  });
}

export function tapEvents(log: EventLog, activity: DashboardActivity): EventLog {
  return decorate(log, {
    append: async (events) => {
      const result = await log.append(events);
      activity.onEvents(result.inserted);
      return result;
    },
  });
}
