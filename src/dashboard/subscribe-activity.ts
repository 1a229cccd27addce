import { joinConfigOf } from "../app/engine.js";
import type { EngineParts } from "../app/engine-parts.js";
import { type ActivityOptions, DashboardActivity } from "./activity.js";

const attached = new WeakMap<EngineParts, DashboardActivity>();

/**
 * The dashboard's activity view of an engine, fed by the engine's events (app/engine-events.ts): logged
 * decisions, stored rewards with their outcome, newly inserted events, each announced after the write
 * resolved. Idempotent per engine (building two servers over one engine must not count twice).
 */
export function subscribeActivity(parts: EngineParts, options: ActivityOptions = {}): DashboardActivity {
  const existing = attached.get(parts);
  if (existing) return existing;
  const activity = new DashboardActivity(parts.clock, joinConfigOf(parts.config), options);
  parts.emitter.on("decision", (record) => activity.onDecision(record));
  parts.emitter.on("reward", ({ reward, outcome }) => activity.onReward(reward, outcome));
  parts.emitter.on("events", (events) => activity.onEvents(events));
  attached.set(parts, activity);
  return activity;
}
