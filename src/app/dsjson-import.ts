import { parseTime } from "../core/clock.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import type { DecisionStore } from "../decisions/decision-store.js";
import { idSchema } from "../events/event-schema.js";
import { parseDsjson } from "../ope/sources/dsjson-source.js";

/**
 * Imports an exported Personalizer log (DSJSON, one event a line) into the decision log, so everything
 * that reads the log works on the history: `POST /v1/policies {warmStart: true}` trains a new policy on it,
 * `loopwise evaluate --logs loopwise:` evaluates on it beside live traffic, `log export` exports it.
 * Each labelled event becomes an activated one-slot decision (id = EventId, time = Timestamp, the served
 * action with its logged propensity and the whole distribution) and its joined reward (−_label_cost).
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

export async function importDsjson(decisions: DecisionStore, text: string, windowMs: number): Promise<DsjsonImport> {
  const out: DsjsonImport = { imported: 0, duplicates: 0, skipped: {}, from: null, to: null };
  const skip = (why: string) => {
    out.skipped[why] = (out.skipped[why] ?? 0) + 1;
  };
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === "") continue;
    const parsed = parseDsjson(line, { source: `line ${i + 1}` });
    const round = parsed.rounds[0];
    if (!round) {
      for (const [why, n] of Object.entries(parsed.skipped)) out.skipped[why] = (out.skipped[why] ?? 0) + n;
      continue;
    }
    const meta = JSON.parse(line) as { EventId?: unknown; Timestamp?: unknown };
    const timestamp = parseTime(meta.Timestamp);
    if (!idSchema.safeParse(meta.EventId).success) skip("no_event_id");
    else if (timestamp === undefined) skip("no_timestamp");
    else if (await decisions.get(meta.EventId as string)) out.duplicates++;
    else {
      const record = decisionOf(meta.EventId as string, timestamp, round);
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
  return out;
}

type Round = ReturnType<typeof parseDsjson>["rounds"][number];

function decisionOf(eventId: string, timestamp: number, round: Round): DecisionRecord {
  // The action's id is its name, not one of its features (live Personalizer requests carry it apart).
  const candidates = round.candidates.map((c) => {
    const { id: _, ...features } = c.features ?? {};
    return Object.keys(features).length > 0 ? { id: c.id, features } : { id: c.id };
  });
  const served = candidates[round.action];
  if (!served) throw new Error(`event ${eventId}: served action ${round.action} is not a candidate`);
  return {
    decisionId: eventId,
    timestamp,
    userId: eventId,
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
