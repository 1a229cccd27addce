import {
  DEFAULT_KEEP_FULL,
  mayFence,
  mayPublish,
  plan,
  retentionStart,
  type Snapshot,
  SnapshotFencedOut,
  type SnapshotStore,
  SnapshotVersionConflict,
} from "../../stream/snapshot-store.js";

/**
 * Snapshots in one process (the embedded default: the learner and serving share it). Subscribers are called
 * on the next microtask after a publish, never inside it, like a notification from another process would be.
 */
export function createMemorySnapshotStore(options: { keepFull?: number } = {}): SnapshotStore {
  const keepFull = options.keepFull ?? DEFAULT_KEEP_FULL;
  const byName = new Map<string, Snapshot[]>();
  const listeners = new Map<string, Set<(version: number) => void>>();
  /** The highest fencing token each name was published with. */
  const fences = new Map<string, number>();

  return {
    async publish(name, version, bytes, kind, fence) {
      const retained = byName.get(name) ?? [];
      const latest = retained[retained.length - 1]?.version;
      const highest = fences.get(name);
      if (!mayFence(highest, fence)) throw new SnapshotFencedOut(name, fence!, highest!);
      if (!mayPublish(latest, version, kind)) throw new SnapshotVersionConflict(name, version, kind, latest);
      if (fence !== undefined) fences.set(name, fence);
      retained.push({ version, kind, bytes: new Uint8Array(bytes) });
      if (kind === "full") retained.splice(0, retentionStart(retained, keepFull));
      byName.set(name, retained);
      for (const listener of listeners.get(name) ?? []) queueMicrotask(() => listener(version));
    },
    async latest(name) {
      const last = byName.get(name)?.at(-1);
      return last ? { version: last.version, kind: last.kind } : undefined;
    },
    async versions(name) {
      return (byName.get(name) ?? []).map(({ version, kind }) => ({ version, kind }));
    },
    async since(name, have, options) {
      const retained = byName.get(name) ?? [];
      const wanted = new Set(plan(retained, have).map((r) => r.version));
      const prefix = options?.fullPrefix;
      return retained
        .filter((s) => wanted.has(s.version))
        .map((s) =>
          prefix !== undefined && s.kind === "full"
            ? { ...s, bytes: s.bytes.slice(0, prefix), size: s.bytes.byteLength }
            : { ...s, bytes: new Uint8Array(s.bytes) },
        );
    },
    async range(name, version, start, end) {
      return byName
        .get(name)
        ?.find((s) => s.version === version)
        ?.bytes.slice(start, end);
    },
    async subscribe(name, onVersion) {
      const set = listeners.get(name) ?? new Set();
      listeners.set(name, set);
      set.add(onVersion);
      return () => set.delete(onVersion);
    },
    async close() {
      listeners.clear();
    },
  };
}
