/**
 * Per-model cache of live sessions' scorer states (SessionScorer.scoreFrom), so the request after an event
 * only extends the previous computation. One cache belongs to one model: a swapped-in model starts empty and
 * the old cache goes with the old model. Bounded by an LRU over a session count and a byte estimate.
 *
 * A state is found by the caller's session key when given; otherwise by the item sequence itself, or the
 * sequence without its last item (the request right after one appended event). A state is taken out while
 * a request uses it and put back under the request's key, so it never sits under a key it no longer matches;
 * and a state describes itself, so even a key collision costs time, never a wrong score.
 */
export interface SessionCacheOptions {
  /** Most sessions kept (0 disables the cache). */
  maxSessions: number;
  /** Most bytes of state kept (estimated by the states). */
  maxBytes: number;
}

export const DEFAULT_SESSION_CACHE: SessionCacheOptions = { maxSessions: 10_000, maxBytes: 64 * 1024 * 1024 };

export interface SessionCacheStats {
  sessions: number;
  bytes: number;
  hits: number;
  misses: number;
  evictions: number;
}

interface Entry {
  state: object;
  bytes: number;
}

/** Item ids cannot hold this character in practice; a collision would only cost a recomputation (see above). */
const SEP = "\u001f";

export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(
    private readonly options: SessionCacheOptions = DEFAULT_SESSION_CACHE,
    private readonly sizeOf: (state: object) => number = defaultSize,
    /** Gets each evicted state (a scorer may reuse its buffers for the next new session). */
    private readonly onEvict?: (state: object) => void,
  ) {}

  get enabled(): boolean {
    return this.options.maxSessions > 0;
  }

  /** Removes and returns the state for this request (if any), and the key to put the next state under. */
  take(items: readonly string[], sessionKey?: string): { key: string; state: object | undefined } {
    let key: string;
    let state: object | undefined;
    if (sessionKey !== undefined) {
      key = `k${SEP}${sessionKey}`;
      state = this.remove(key);
    } else {
      key = `s${SEP}${items.join(SEP)}`;
      state = this.remove(key);
      if (state === undefined && items.length > 1) state = this.remove(`s${SEP}${items.slice(0, -1).join(SEP)}`);
    }
    if (state === undefined) this.misses++;
    else this.hits++;
    return { key, state };
  }

  put(key: string, state: object | undefined): void {
    if (!this.enabled || state === undefined) return;
    this.remove(key);
    const bytes = this.sizeOf(state);
    this.entries.set(key, { state, bytes });
    this.bytes += bytes;
    while (
      this.entries.size > this.options.maxSessions ||
      (this.bytes > this.options.maxBytes && this.entries.size > 1)
    ) {
      const oldest = this.entries.keys().next().value as string;
      const evicted = this.remove(oldest);
      this.evictions++;
      if (evicted !== undefined) this.onEvict?.(evicted);
    }
  }

  stats(): SessionCacheStats {
    return {
      sessions: this.entries.size,
      bytes: this.bytes,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
    };
  }

  private remove(key: string): object | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    this.bytes -= e.bytes;
    return e.state;
  }
}

function defaultSize(state: object): number {
  const b = (state as { bytes?: () => number }).bytes;
  return typeof b === "function" ? b.call(state) : 256;
}
