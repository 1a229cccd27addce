import { parseTime } from "../core/clock.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import { idSchema } from "../events/event-schema.js";
import { type DsjsonRound, lineRounds, parseLine } from "../ope/sources/dsjson-source.js";
import { slotDecisionId } from "./personalizer-mapping.js";

/**
 * Imports an exported Personalizer log (DSJSON, one event a line) into the decision log, so everything
 * that reads the log works on the history: `POST /v1/policies {warmStart: true}` trains a new policy on it,
 * `loopwise evaluate --logs loopwise:` evaluates on it beside live traffic, `log export` exports it.
 * Each labelled event becomes an activated one-slot decision (id = EventId, time = Timestamp, the served
 * action with its logged propensity and the whole distribution) and its joined reward (−_label_cost); each
 * labelled slot of a multi-slot (CCB) event becomes one such decision, `EventId:0`, `EventId:1`, … as the live
 * multi-slot route logs them.
 * Features are read by the DSJSON reader (ope/sources/dsjson-source.ts), whose names match what the
 * Personalizer-compatible routes give live requests. Re-importing skips events already in the log.
 */
export interface DsjsonImport {
  imported: number;
  duplicates: number;
  skipped: Record<string, number>;
  from: number | null;
  to: number | null;
}

/** Logged as the policy of imported decisions (offline evaluation's "logging policy"). */
export const IMPORTED_POLICY = { id: "personalizer", type: "imported", version: 1 } as const;

/**
 * `lines`: the text of a file, or its lines as they are read (a Personalizer export runs to gigabytes, more than
 * one string can hold). `out` accumulates across calls, so several files make one summary.
 */
export async function importDsjson(
  decisions: DecisionStore,
  lines: string | Iterable<string> | AsyncIterable<string>,
  windowMs: number,
  out: DsjsonImport = { imported: 0, duplicates: 0, skipped: {}, from: null, to: null },
): Promise<DsjsonImport> {
  const skip = (why: string) => {
    out.skipped[why] = (out.skipped[why] ?? 0) + 1;
  };
  let i = 0;
  for await (const line of typeof lines === "string" ? lines.split(/\r?\n/) : lines) {
    i++;
    if (line.trim() === "") continue;
    const event = parseLine(line, i);
    const meta = event as { EventId?: unknown; Timestamp?: unknown };
    const timestamp = parseTime(meta.Timestamp);
    for (const { round, slot } of lineRounds(event, i, skip)) {
      const ids = decisionIds(meta.EventId, slot);
      if (!ids) skip("no_event_id");
      else if (timestamp === undefined) skip("no_timestamp");
      else if (await decisions.get(ids.decisionId)) out.duplicates++;
      else {
        const record = decisionOf(ids, timestamp, round);
        await decisions.append(record);
        await decisions.addReward(
          {
            rewardId: `${record.decisionId}:dsjson`,
            decisionId: record.decisionId,
            value: round.reward,
            type: "reward",
            timestamp,
            source: "api",
          },
          windowMs,
        );
        out.imported++;
        out.from = Math.min(out.from ?? timestamp, timestamp);
        out.to = Math.max(out.to ?? timestamp, timestamp);
      }
    }
  }
  return out;
}

/**
 * A one-slot event's decision is its EventId. A multi-slot event's slots are `EventId:0`, `EventId:1`, … as the
 * live multi-slot route names them (user: the EventId); without an EventId, a slot's own outcome `_id`.
 * Undefined when no valid id is there.
 */
function decisionIds(
  eventId: unknown,
  slot: { index: number; id?: string } | undefined,
): { decisionId: string; userId: string } | undefined {
  const valid = (id: unknown): id is string => idSchema.safeParse(id).success;
  if (!slot) return valid(eventId) ? { decisionId: eventId, userId: eventId } : undefined;
  if (valid(eventId)) {
    const decisionId = slotDecisionId(eventId, slot.index);
    return valid(decisionId) ? { decisionId, userId: eventId } : undefined;
  }
  return valid(slot.id) ? { decisionId: slot.id, userId: slot.id } : undefined;
}

type Round = DsjsonRound["round"];

function decisionOf(ids: { decisionId: string; userId: string }, timestamp: number, round: Round): DecisionRecord {
  // The action's id is its name, not one of its features (live Personalizer requests carry it apart).
  const candidates = round.candidates.map((c) => {
    const { id: _, ...features } = c.features ?? {};
    return Object.keys(features).length > 0 ? { id: c.id, features } : { id: c.id };
  });
  const served = candidates[round.action];
  if (!served) throw new Error(`event ${ids.decisionId}: served action ${round.action} is not a candidate`);
  return {
    decisionId: ids.decisionId,
    timestamp,
    userId: ids.userId,
    context: round.context,
    features: {},
    candidates,
    slots: [
      {
        position: 0,
        itemId: served.id,
        index: round.action,
        propensity: round.propensity,
        probabilities: Array.from(round.probabilities ?? []),
      },
    ],
    policy: { ...IMPORTED_POLICY },
    baselineItemId: candidates[0]?.id ?? null,
    activated: true,
    activatedAt: timestamp,
    candidateSource: "request",
    fallbacks: [],
  };
}
