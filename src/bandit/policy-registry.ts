import type { Clock } from "../core/clock.js";
import { LoopwiseError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { BasePolicy } from "./base-policy.js";
import type { Policy, PolicySpec } from "./policy.js";
import type { PolicyStore } from "./policy-store.js";
import { createPolicy, DEFAULT_POLICY_SPEC, restorePolicy } from "./policy-types.js";

/** The id under which the default policy is also reachable (config `rank.defaultPolicy` = "default"). */
export const DEFAULT_POLICY_ALIAS = "default";

export interface RegisterRequest extends PolicySpec {
  id?: string;
}

export interface RegisterResult {
  policy: BasePolicy;
  /** False when the same id was registered again with an identical spec (idempotent, nothing changed). */
  changed: boolean;
}

export interface PolicyRegistryOptions {
  clock: Clock;
  store?: PolicyStore;
  /** Persist changed policies every this many ms (0 = only on persist()/close()). */
  persistEveryMs?: number;
  /** Injected timers (tests); default the global ones. */
  timers?: { setInterval: typeof setInterval; clearInterval: typeof clearInterval };
  /**
   * A monotonic ms clock for a save's time budget per event-loop turn (`SAVE_TURN_BUDGET_MS`); default
   * `performance.now`. Not `clock`: that one dates snapshots (a manual one in tests and simulations never moves).
   */
  turnClock?: () => number;
}

/**
 * Live policies by id. Registers from a spec (re-registering an id with a different spec bumps its
 * version and starts it fresh), resolves the default (also under the id "default" unless a policy has
 * that id), and persists snapshots through the PolicyStore on an interval and on close; `open()`
 * restores every stored policy so learning resumes after a restart. Implements the app's
 * PolicyProvider (`get(id)`).
 */
export class PolicyRegistry {
  private readonly policies = new Map<string, BasePolicy>();
  /** Updates count at the last save, per id: unchanged policies are not rewritten. */
  private readonly saved = new Map<string, number>();
  private defaultId: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly opts: PolicyRegistryOptions;
  private staleness: ((policyId: string) => boolean) | undefined;
  /** The saves asked so far, in order (`save`). */
  private saving: Promise<void> = Promise.resolve();

  private constructor(opts: PolicyRegistryOptions) {
    this.opts = opts;
  }

  /** A registry with every stored policy restored and the stored default selected. */
  static async open(opts: PolicyRegistryOptions): Promise<PolicyRegistry> {
    const registry = new PolicyRegistry(opts);
    if (opts.store) {
      for (const row of await opts.store.list()) {
        const policy = restorePolicy(row.snapshot);
        registry.policies.set(policy.id, policy);
        registry.saved.set(policy.id, policy.updates);
      }
      const stored = await opts.store.getDefault();
      if (stored && registry.policies.has(stored)) registry.defaultId = stored;
    }
    const every = opts.persistEveryMs ?? 0;
    if (every > 0 && opts.store) {
      const timers = opts.timers ?? { setInterval, clearInterval };
      registry.timer = timers.setInterval(() => {
        registry.persist().catch(() => {
          // A failed periodic save is retried at the next tick and on close; nothing to unwind here.
        });
      }, every);
      registry.timer.unref?.();
    }
    return registry;
  }

  /**
   * Registers a spec under an id (a new version when the spec changed; nothing when it is the same).
   * `prepare` runs on the new policy before anyone can see it (e.g. training it on the log, warm-start.ts):
   * until it resolves, the previous version, if any, keeps serving. It may resolve with a replacement
   * (a copy trained in a worker thread, app/warm-start-isolated.ts), which is registered instead.
   */
  async register(
    req: RegisterRequest,
    // biome-ignore lint/suspicious/noConfusingVoidType: a prepare that trains in place returns nothing (void).
    prepare?: (policy: BasePolicy) => Promise<BasePolicy | undefined | void>,
  ): Promise<RegisterResult> {
    const spec: PolicySpec = { type: req.type, params: req.params ?? {}, features: req.features ?? {} };
    const id = req.id ?? newId("pol", this.opts.clock.now());
    const existing = this.policies.get(id);
    if (existing && sameSpec(existing.spec, spec)) return { policy: existing, changed: false };
    const created = createPolicy(id, spec, existing ? existing.version + 1 : 1);
    const policy = (prepare ? await prepare(created) : undefined) ?? created;
    this.policies.set(id, policy);
    this.saved.delete(id);
    if (this.defaultId === undefined) this.defaultId = id;
    await this.save(policy);
    if (this.opts.store && this.defaultId === id) await this.opts.store.setDefault(id);
    return { policy, changed: true };
  }

  /**
   * At start-up: when no default policy exists (fresh install), register `spec` (the product default,
   * DEFAULT_POLICY_SPEC) under `id` and make it the default. Returns the default policy.
   */
  async ensureDefault(spec: PolicySpec = DEFAULT_POLICY_SPEC, id = DEFAULT_POLICY_ALIAS): Promise<BasePolicy> {
    const current = this.defaultId ? this.policies.get(this.defaultId) : undefined;
    if (current) return current;
    const { policy } = await this.register({ ...spec, id });
    await this.setDefault(policy.id);
    return policy;
  }

  /**
   * The spec of the policy under the default alias when it is not the product default `spec`: an install
   * from an earlier version keeps the default it registered at first start (its learned state is its own),
   * so the engine says at start that a newer product default exists. Undefined when they match.
   */
  outdatedDefault(spec: PolicySpec = DEFAULT_POLICY_SPEC, id = DEFAULT_POLICY_ALIAS): PolicySpec | undefined {
    const current = this.policies.get(id);
    return current && !sameSpec(current.spec, spec) ? current.spec : undefined;
  }

  get(id: string): Policy | undefined {
    return this.find(id);
  }

  /** The policy as registered (with snapshot/describe typed). */
  find(id: string): BasePolicy | undefined {
    const found = this.policies.get(id);
    if (found) return found;
    if (id === DEFAULT_POLICY_ALIAS && this.defaultId) return this.policies.get(this.defaultId);
    return undefined;
  }

  list(): BasePolicy[] {
    return [...this.policies.values()];
  }

  get defaultPolicyId(): string | undefined {
    return this.defaultId;
  }

  async setDefault(id: string): Promise<void> {
    if (!this.policies.has(id)) throw new LoopwiseError("POLICY_NOT_FOUND", `policy "${id}" is not registered`);
    this.defaultId = id;
    await this.opts.store?.setDefault(id);
  }

  /**
   * Serves `policy` under its id from now on: an API node following the learner's snapshots
   * (app/policy-follower.ts) serves its mirror of the learner's policy, changed between requests in one
   * synchronous run per version (rank reads a policy synchronously, so it sees one version from start to end).
   * Not saved by `persist` (the learner that published it owns the stored state): call again after changing it.
   */
  serve(policy: BasePolicy): void {
    this.policies.set(policy.id, policy);
    this.saved.set(policy.id, policy.updates);
  }

  /** Installs the staleness check rank consults (a follower's: its newest version is older than allowed). */
  setStalenessCheck(check: (policyId: string) => boolean): void {
    this.staleness = check;
  }

  /** Whether the served policy `id` is older than the staleness bound (false when nobody follows snapshots). */
  isStale(id: string): boolean {
    return this.staleness?.(id) ?? false;
  }

  /** Saves every policy that learned since its last save; returns how many were written. */
  async persist(): Promise<number> {
    let written = 0;
    for (const policy of this.policies.values()) {
      if (this.saved.get(policy.id) === policy.updates) continue;
      await this.save(policy);
      written++;
    }
    return written;
  }

  /** Stops the interval and saves what changed. */
  async close(): Promise<void> {
    if (this.timer !== undefined) (this.opts.timers ?? { setInterval, clearInterval }).clearInterval(this.timer);
    this.timer = undefined;
    await this.persist();
  }

  /**
   * One save at a time, in the order asked: a save copies over several turns, so a second one started meanwhile (a
   * close, or a register, while the interval's save copies) could finish its copy first and reach the store first,
   * and the older state, stored after it, would be what the next start restores. Queued, each save copies when its
   * turn comes (the state as of then) and the last asked is the last stored.
   */
  private save(policy: BasePolicy): Promise<void> {
    const run = this.saving.then(() => this.saveNow(policy));
    this.saving = run.catch(() => {}); // the caller sees the failure; the queue only orders
    return run;
  }

  private async saveNow(policy: BasePolicy): Promise<void> {
    if (!this.opts.store) return;
    const updates = policy.updates;
    const savedAt = this.opts.clock.now();
    // The state as of now, its arms copied a slice per event-loop turn while serving and learning go on
    // (sliced-snapshot.ts): at once, the default policy's 2,000 arms took 75-110 ms of main-thread CPU (100-460 ms
    // of wall time in a soak on the loaded bench machine).
    const copy = policy.snapshotInSlices();
    const turnClock = this.opts.turnClock ?? (() => performance.now());
    while (!copyOneTurn(copy, turnClock)) await nextTurn();
    // A fresh snapshot nobody else sees: the store may transfer its arrays instead of copying them.
    await this.opts.store.save(copy.result(), savedAt, { handOver: true });
    this.saved.set(policy.id, updates);
  }
}

/**
 * Arms a periodic save copies per event-loop turn: at the default's armDims 64 one arm is ~17 KB (its mean and
 * packed covariance, twice when its serving copy differs), so 32 arms are ~0.5-1 MB of copies: ~2 ms of main-thread
 * CPU with the pool's first page faults (64 arms measured ~4 ms).
 */
export const ARMS_PER_TURN = 32;

/**
 * Wall time one turn of a save's copy may take (besides `ARMS_PER_TURN`): 32 arms are ~2 ms at the default's armDims
 * 64 on a quiet machine, but an arm's covariance grows with armDims² (128 dims: ~8 ms a turn), and on a loaded
 * machine, or with GC marking steps landing in the copy, a turn of 32 took 10-30 ms (bench/support/save-blocks.ts).
 * Checked every few arms; the turn yields once it is spent.
 */
export const SAVE_TURN_BUDGET_MS = 2;
const ARMS_PER_CHECK = 4;

/**
 * One turn of a save's copy: up to ARMS_PER_TURN arms, fewer once SAVE_TURN_BUDGET_MS passed on `now` (a monotonic
 * ms clock). True when the copy is complete. The learner duty's snapshots copy the same way
 * (duties/sliced-policy-snapshot.ts).
 */
export function copyOneTurn(copy: { step(max: number): boolean }, now: () => number): boolean {
  const end = now() + SAVE_TURN_BUDGET_MS;
  for (let copied = 0; copied < ARMS_PER_TURN; copied += ARMS_PER_CHECK) {
    if (copy.step(ARMS_PER_CHECK)) return true;
    if (now() >= end) return false;
  }
  return false;
}

/** Resolves on the event loop's next turn (after the I/O that is ready: requests are served in between). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sameSpec(a: PolicySpec, b: PolicySpec): boolean {
  return (
    a.type === b.type &&
    stable(a.params ?? {}) === stable(b.params ?? {}) &&
    stable(a.features ?? {}) === stable(b.features ?? {})
  );
}

/** JSON with sorted keys, so {a,b} and {b,a} compare equal. */
function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1)))
      : v,
  );
}
