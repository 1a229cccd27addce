import type { FencingRolloutStore, RolloutStore } from "../rollout/rollout-store.js";
import type { AuditEntry, Reason, RolloutDecision } from "../rollout/rollout-types.js";
import type { Actor, AuditInput, AuditLog } from "./dashboard-ports.js";

/** The rollout controller, as the audit timeline names it. */
export const CONTROLLER: Actor = { name: "controller", scope: "controller" };

/** The caller of a request (server/auth.ts's `req.apiKey`); null name and scope with auth "none". */
export function actorOf(key: { name: string; scope: "client" | "read" | "admin" } | undefined): Actor {
  return key ? { name: key.name, scope: key.scope } : { name: null, scope: null };
}

/** The rollout audit entry's facts the timeline shows (stages, shares, status, reasons and statistics). */
export function rolloutDetails(e: AuditEntry): Record<string, unknown> {
  return {
    fromStage: e.fromStage,
    toStage: e.toStage,
    fromShare: e.fromShare,
    toShare: e.toShare,
    status: e.status,
    reasons: e.reasons,
    ...(e.stats === undefined ? {} : { stats: e.stats }),
  };
}

const describeStages = (e: AuditEntry) =>
  e.fromStage === e.toStage ? `at ${e.toStage}%` : `${e.fromStage}% → ${e.toStage}%`;

/**
 * The rollout store, with every transition the controller made on its own (actor "auto": advance,
 * rollback, halt, complete) also written to the audit timeline with its reasons and statistics. Admin
 * transitions are written by their routes instead, which know the caller's key name.
 */
export function auditedRolloutStore(store: RolloutStore, audit: AuditLog): RolloutStore {
  return {
    save: (r) => store.save(r),
    get: (id) => store.get(id),
    list: () => store.list(),
    audit: (id) => store.audit(id),
    saveStats: (id, s) => store.saveStats(id, s),
    loadStats: (id) => store.loadStats(id),
    close: () => store.close(),
    appendAudit: async (entry) => {
      await store.appendAudit(entry);
      await auditTransition(audit, entry);
    },
  };
}

/**
 * The same for the rollout duty's store (scale-out: a worker moves the stages): its fenced writes' transitions
 * go to the audit timeline too, in the same shape, once the fence accepted them (a stale holder's refused
 * transition never reaches the timeline).
 */
export function auditedFencingStore(store: FencingRolloutStore, audit: AuditLog): FencingRolloutStore {
  return {
    ...auditedRolloutStore(store, audit),
    loadCheckpoint: (lease) => store.loadCheckpoint(lease),
    async fenced(lease, token) {
      const writes = await store.fenced(lease, token);
      return {
        save: (r) => writes.save(r),
        saveStats: (id, s) => writes.saveStats(id, s),
        checkpoint: (stats, consumer) => writes.checkpoint(stats, consumer),
        appendAudit: async (entry) => {
          await writes.appendAudit(entry);
          await auditTransition(audit, entry);
        },
      };
    },
  };
}

/** A transition the controller made on its own, as the audit timeline shows it (admin ones: their routes). */
async function auditTransition(audit: AuditLog, entry: AuditEntry): Promise<void> {
  if (entry.actor !== "auto") return;
  await audit.append({
    at: entry.at,
    actor: CONTROLLER,
    action: `rollout.${entry.action}`,
    target: { kind: "rollout", id: entry.rolloutId },
    summary: `controller: ${entry.action} ${describeStages(entry)} (${summarizeReasons(entry.reasons)})`,
    details: rolloutDetails(entry),
  });
}

/**
 * Records the controller's holds, which change nothing and so reach no rollout store: one entry when a
 * rollout's hold reasons change (not one per tick), so the time axis shows why a stage waited.
 */
export class HoldRecorder {
  private readonly last = new Map<string, string>();

  constructor(private readonly audit: AuditLog) {}

  async record(
    results: readonly { rolloutId: string; decision: RolloutDecision }[],
    now: number,
    stats: (rolloutId: string) => unknown,
  ): Promise<void> {
    for (const { rolloutId, decision } of results) {
      if (decision.action !== "hold") {
        this.last.delete(rolloutId);
        continue;
      }
      const codes = decision.reasons.map((r) => r.code).join(",");
      if (this.last.get(rolloutId) === codes) continue;
      this.last.set(rolloutId, codes);
      const entry: AuditInput = {
        at: now,
        actor: CONTROLLER,
        action: "rollout.hold",
        target: { kind: "rollout", id: rolloutId },
        summary: `controller: hold (${summarizeReasons(decision.reasons)})`,
        details: { reasons: decision.reasons, stats: stats(rolloutId) },
      };
      await this.audit.append(entry);
    }
  }
}

function summarizeReasons(reasons: readonly Reason[]): string {
  return reasons.length === 0 ? "no reason given" : reasons.map((r) => r.message).join("; ");
}
