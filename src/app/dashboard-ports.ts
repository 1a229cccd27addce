import { FencedOut } from "../rollout/rollout-store.js";
import type { MinuteRow } from "./minute-aggregates.js";

/**
 * The ports of the dashboard's server side: stored per-minute aggregates and the audit log. Adapters:
 * storage/sqlite/dashboard-store-sqlite.ts (the embedded default), storage/postgres/dashboard-store-postgres.ts
 * (scale-out: written by the `dashboard-fold` duty, read by every node) and the memory ones below (tests).
 */
export interface MinuteStore {
  /** Every stored minute at or after `since` (epoch ms). */
  load(since: number): Promise<MinuteRow[]>;
  /** Inserts or replaces the given minutes (one transaction). */
  save(rows: readonly MinuteRow[]): Promise<void>;
  /** Drops minutes before `minute` (retention). */
  deleteBefore(minute: number): Promise<void>;
}

/**
 * The writes of the `dashboard-fold` duty's lease holder (duties/dashboard-fold.ts): each is refused with
 * `FencedOut` (nothing written) once a holder with a newer fencing token wrote (Kleppmann 2016: the store checks
 * the token, not the holder).
 */
export interface FencedMinuteWrites {
  /**
   * The minutes the fold changed, the retention's cut, the fold's consumer state (stream positions, ids seen) and
   * its attribution state (a full replaces the parts before it, a delta follows them), all or nothing: after a
   * takeover the stored counts, the reading position and what attributes later rewards agree, so nothing counts
   * twice and nothing is lost.
   */
  checkpoint(
    rows: readonly MinuteRow[],
    deleteBefore: number,
    consumer: string,
    attribution?: AttributionPart,
  ): Promise<void>;
}

/** The attribution part of a fold checkpoint (duties/dashboard-fold-checkpoint.ts); opaque to the store. */
export interface AttributionPart {
  full: boolean;
  bytes: Uint8Array;
}

/** A minute store that guards the fold duty's writes with its fencing token (memory, PostgreSQL). */
export interface FencingMinuteStore extends MinuteStore {
  /** The writes of `lease`'s holder with `token`; claims the fence at once (older tokens are refused from here). */
  fenced(lease: string, token: number): Promise<FencedMinuteWrites>;
  /** The consumer state of `lease`'s last accepted checkpoint. */
  loadCheckpoint(lease: string): Promise<string | undefined>;
  /** The attribution parts of `lease`'s last accepted checkpoint: its last full and the deltas after it, in order. */
  loadAttribution(lease: string): Promise<Uint8Array[]>;
}

/**
 * Who did something: the API key's name and scope (null with auth "none"), the rollout controller, or the
 * CLI on the server's machine (`cli:<OS user>`, scope "cli": key changes).
 */
export interface Actor {
  name: string | null;
  scope: "client" | "read" | "admin" | "controller" | "cli" | null;
}

export type AuditTargetKind = "policy" | "rollout" | "evaluation" | "model" | "key";

export interface AuditInput {
  at: number;
  actor: Actor;
  /** e.g. `policy.register`, `rollout.advance`, `rollout.hold` (a controller decision), `evaluation.launch`. */
  action: string;
  target: { kind: AuditTargetKind; id: string };
  /** One line a person reads in the timeline. */
  summary: string;
  /** What was asked (request fields) and, for controller decisions, the reasons and statistics behind it. */
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditInput {
  /** Increasing with every entry: the paging cursor. */
  seq: number;
}

export interface AuditQuery {
  from?: number;
  to?: number;
  action?: string;
  targetKind?: AuditTargetKind;
  targetId?: string;
  actor?: string;
  /** Only entries with a smaller seq (newest first: the previous page's `next`). */
  before?: number;
  /** Only entries with a larger seq (oldest first: the previous page's `next`). */
  after?: number;
  /** Oldest first instead of newest first (markers on a time axis). */
  ascending?: boolean;
  limit: number;
}

export interface AuditLog {
  append(entry: AuditInput): Promise<AuditRecord>;
  /** Matching entries, newest first, at most `limit`. */
  list(query: AuditQuery): Promise<AuditRecord[]>;
}

/** In-memory adapters (tests, `:memory:` engines have SQLite too; these serve pure unit tests). */
export class MemoryMinuteStore implements FencingMinuteStore {
  readonly rows = new Map<string, MinuteRow>();
  private readonly fences = new Map<string, { fence: number; checkpoint?: string }>();
  private readonly attribution = new Map<string, Uint8Array[]>();

  async fenced(lease: string, token: number): Promise<FencedMinuteWrites> {
    const raise = () => {
      const held = this.fences.get(lease);
      if (held && held.fence > token) throw new FencedOut(lease, token);
      this.fences.set(lease, { ...held, fence: token });
    };
    raise();
    return {
      checkpoint: async (rows, deleteBefore, consumer, attribution) => {
        raise();
        await this.save(rows);
        await this.deleteBefore(deleteBefore);
        this.fences.set(lease, { fence: token, checkpoint: consumer });
        if (attribution) {
          const parts = attribution.full ? [] : (this.attribution.get(lease) ?? []);
          this.attribution.set(lease, [...parts, attribution.bytes.slice()]);
        }
      },
    };
  }

  async loadCheckpoint(lease: string): Promise<string | undefined> {
    return this.fences.get(lease)?.checkpoint;
  }

  async loadAttribution(lease: string): Promise<Uint8Array[]> {
    return [...(this.attribution.get(lease) ?? [])];
  }

  async load(since: number): Promise<MinuteRow[]> {
    return [...this.rows.values()].filter((r) => r.minute >= since).map((r) => ({ ...r }));
  }
  async save(rows: readonly MinuteRow[]): Promise<void> {
    for (const r of rows) this.rows.set(`${r.series}\u0000${r.minute}`, { ...r });
  }
  async deleteBefore(minute: number): Promise<void> {
    for (const [k, r] of this.rows) if (r.minute < minute) this.rows.delete(k);
  }
}

export class MemoryAuditLog implements AuditLog {
  private readonly entries: AuditRecord[] = [];
  async append(entry: AuditInput): Promise<AuditRecord> {
    const record = { ...entry, seq: this.entries.length + 1 };
    this.entries.push(record);
    return record;
  }
  async list(q: AuditQuery): Promise<AuditRecord[]> {
    const matching = this.entries.filter((e) => matchesAudit(e, q));
    const ordered = q.ascending ? matching : matching.reverse();
    return ordered.slice(0, q.limit);
  }
}

/** The filter of `AuditQuery`, for adapters that filter in code. */
export function matchesAudit(e: AuditRecord, q: AuditQuery): boolean {
  return (
    (q.from === undefined || e.at >= q.from) &&
    (q.to === undefined || e.at < q.to) &&
    (q.action === undefined || e.action === q.action || e.action.startsWith(`${q.action}.`)) &&
    (q.targetKind === undefined || e.target.kind === q.targetKind) &&
    (q.targetId === undefined || e.target.id === q.targetId) &&
    (q.actor === undefined || e.actor.name === q.actor) &&
    (q.before === undefined || e.seq < q.before) &&
    (q.after === undefined || e.seq > q.after)
  );
}
