import type { Snapshot, SnapshotStore } from "./snapshot-store.js";

/** How a follower's state takes a snapshot: replace it with a full one, or apply a delta on top. */
export interface SnapshotApplier {
  /**
   * `previous`: the version the local state is at (undefined before the first), which a full may continue. May
   * resolve later (a large full restored over several event-loop turns): the follower applies nothing else
   * meanwhile. The bytes are the applier's (it may transfer them to a thread). With the follower's `fullPrefix`,
   * `bytes` are the full's first bytes only and `rest` reads the others.
   */
  full(bytes: Uint8Array, version: number, previous: number | undefined, rest?: FullReader): void | Promise<void>;
  delta(bytes: Uint8Array, version: number): void;
}

/** The rest of a full fetched as its prefix (snapshot-store.ts `range`). */
export interface FullReader {
  /** The full's whole length. */
  size: number;
  /** Bytes [start, end), the caller's; throws when retention dropped the version meanwhile (the catch-up fails). */
  read(start: number, end: number): Promise<Uint8Array>;
}

export interface SnapshotFollowerOptions {
  /** Fetch fulls as their first `fullPrefix` bytes; the applier reads the rest only if it needs it. */
  fullPrefix?: number;
}

/**
 * Keeps local state at the newest published version (an API node following the learner's policy snapshots):
 * applies versions strictly in order; when a delta does not follow its version (it missed one, or retention
 * dropped it) it fetches the last full and the deltas after it. One catch-up runs at a time; a notification
 * during one runs another after it.
 */
export class SnapshotFollower {
  private at: number | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly store: SnapshotStore,
    private readonly name: string,
    private readonly applier: SnapshotApplier,
    private readonly options: SnapshotFollowerOptions = {},
  ) {}

  /** The version the local state is at (undefined before the first full). */
  get version(): number | undefined {
    return this.at;
  }

  /** Subscribes, catches up once now and again on every notification; resolves the stop function. */
  async start(): Promise<() => void> {
    const stop = await this.store.subscribe(this.name, () => void this.catchUp().catch(() => {}));
    await this.catchUp();
    return stop;
  }

  /** Brings the state to the newest version; resolves when it is there (or the store could not be read). */
  catchUp(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      const { fullPrefix } = this.options;
      const batch = await this.store.since(this.name, this.at, { fullPrefix });
      if (!(await this.applyInOrder(batch))) {
        await this.applyInOrder(await this.store.since(this.name, undefined, { fullPrefix }));
      }
    } while (this.again);
  }

  /** False when a delta did not follow the local version (nothing past it applied). */
  private async applyInOrder(batch: Snapshot[]): Promise<boolean> {
    for (const s of batch) {
      if (s.kind === "full") {
        if (this.at !== undefined && s.version <= this.at) continue;
        await this.applier.full(s.bytes, s.version, this.at, s.size === undefined ? undefined : this.reader(s));
      } else {
        if (this.at !== undefined && s.version <= this.at) continue;
        if (this.at === undefined || s.version !== this.at + 1) return false;
        this.applier.delta(s.bytes, s.version);
      }
      this.at = s.version;
    }
    return true;
  }

  private reader(s: Snapshot): FullReader {
    return {
      size: s.size!,
      read: async (start, end) => {
        const bytes = await this.store.range(this.name, s.version, start, end);
        if (!bytes) throw new Error(`snapshot ${this.name}: version ${s.version} was dropped while reading it`);
        return bytes;
      },
    };
  }
}
