import type { PolicySnapshot } from "../../bandit/base-policy.js";
import {
  PolicyFencedOut,
  type PolicySaveOptions,
  type PolicyStore,
  type StoredPolicy,
} from "../../bandit/policy-store.js";

/**
 * In-memory PolicyStore (tests, simulations). Snapshots are stored as JSON text, as the SQLite adapter
 * does, so a test through this adapter exercises the same serialization round trip. Fences are kept apart
 * from the rows (as PostgreSQL keeps them in `rollout_fences`): deleting a policy does not lower its fence.
 */
export class MemoryPolicyStore implements PolicyStore {
  private readonly rows = new Map<string, { json: string; savedAt: number }>();
  private readonly fences = new Map<string, number>();
  private defaultId: string | undefined;

  async save(snapshot: PolicySnapshot, savedAt: number, options: PolicySaveOptions = {}): Promise<void> {
    const { fence } = options;
    if (fence !== undefined) {
      if (fence < (this.fences.get(snapshot.id) ?? fence)) throw new PolicyFencedOut(snapshot.id, fence);
      this.fences.set(snapshot.id, fence);
      if (storedRevision(this.rows.get(snapshot.id)?.json) > snapshot.version) return; // re-registered meanwhile
    }
    this.rows.set(snapshot.id, { json: JSON.stringify(snapshot), savedAt });
  }

  async revision(id: string): Promise<number | undefined> {
    const json = this.rows.get(id)?.json;
    return json === undefined ? undefined : storedRevision(json);
  }

  async load(id: string): Promise<StoredPolicy | undefined> {
    const row = this.rows.get(id);
    return row && { snapshot: JSON.parse(row.json) as PolicySnapshot, savedAt: row.savedAt };
  }

  async ids(): Promise<string[]> {
    return [...this.rows.keys()];
  }

  async list(): Promise<StoredPolicy[]> {
    return [...this.rows.values()].map((r) => ({ snapshot: JSON.parse(r.json) as PolicySnapshot, savedAt: r.savedAt }));
  }

  async delete(id: string): Promise<boolean> {
    if (this.defaultId === id) this.defaultId = undefined;
    return this.rows.delete(id);
  }

  async setDefault(id: string | undefined): Promise<void> {
    this.defaultId = id;
  }

  async getDefault(): Promise<string | undefined> {
    return this.defaultId;
  }

  async close(): Promise<void> {}
}

/** The spec revision (`version`) of a stored snapshot's JSON; -1 when there is none. */
function storedRevision(json: string | undefined): number {
  return json === undefined ? -1 : (JSON.parse(json) as PolicySnapshot).version;
}
