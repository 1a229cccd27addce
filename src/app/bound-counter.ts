import type { Counter } from "prom-client";

/** One label set's count since the last flush. */
export class BoundChild<L extends string> {
  pending = 0;
  constructor(readonly labels: Record<L, string>) {}
  inc(by = 1): void {
    this.pending += by;
  }
}

/**
 * Pre-bound children of a labelled prom-client counter for the request path. prom-client's `inc(labels)`
 * hashes (sorts and joins) and validates the label object on every call, and its `labels()` children
 * bind that same call; here a child is found by one string key and counts in a plain number, and the
 * counts are handed to the prom-client counter when it is read: its `collect` hook calls `flush` at
 * every scrape or `get()`, so what /metrics shows is exact at the time it is read.
 */
export class BoundCounter<L extends string> {
  private readonly children = new Map<string, BoundChild<L>>();

  constructor(private readonly labelNames: readonly L[]) {}

  /** The child for these label values, in `labelNames` order. */
  child(...values: string[]): BoundChild<L> {
    const key = values.length === 1 ? values[0]! : values.join("\u0001");
    let child = this.children.get(key);
    if (!child) {
      const labels = {} as Record<L, string>;
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i] ?? "";
      });
      child = new BoundChild(labels);
      this.children.set(key, child);
    }
    return child;
  }

  /** Adds the pending counts to `counter`. */
  flush(counter: Counter<L>): void {
    for (const child of this.children.values()) {
      if (child.pending === 0) continue;
      counter.inc(child.labels, child.pending);
      child.pending = 0;
    }
  }
}
