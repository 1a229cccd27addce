import { setImmediate as nextTurn } from "node:timers/promises";
import type { Clock } from "../core/clock.js";
import { LoopwiseError } from "../core/errors.js";
import type { EventLog } from "../events/event-log.js";
import type { Params } from "./model-family.js";
import { DEFAULT_RECOMMENDER, trainRecommender } from "./recommenders.js";
import { buildDataset } from "./session-dataset.js";
import type { SessionModel } from "./session-model.js";
import { type SessionsFromEventsOptions, sessionsFromEvents } from "./sessions-from-events.js";

export interface TrainFromLogOptions extends SessionsFromEventsOptions {
  /** Registry name (default: DEFAULT_RECOMMENDER). */
  model?: string;
  params?: Params;
  clock?: Clock;
  /** Only events at or after this time (epoch ms): a sliding training window. */
  from?: number;
}

/**
 * The app's retrain: scan the event log, build sessions, fit. Reading yields between batches; the fit itself
 * is synchronous on this thread (see ModelHolder.startRetraining). Throws when the log has no session of two
 * or more items (nothing to learn; the caller keeps the serving model).
 */
export async function trainFromEventLog(log: EventLog, options: TrainFromLogOptions = {}): Promise<SessionModel> {
  const sessions = await sessionsFromEvents(
    log.scan(options.from !== undefined ? { from: options.from } : {}),
    options,
  );
  if (sessions.length === 0)
    throw new LoopwiseError("CONFLICT", "no sessions with 2 or more item events in the event log: nothing to train on");
  await nextTurn();
  const dataset = buildDataset(sessions);
  await nextTurn();
  return trainRecommender(options.model ?? DEFAULT_RECOMMENDER, dataset, {
    ...(options.params ? { params: options.params } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
}
