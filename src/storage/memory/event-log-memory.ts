import type { UserEvent } from "../../core/types.js";
import type { EventLog } from "../../events/event-log.js";

/** In-memory event log for tests and fast simulations. Not durable. */
export class MemoryEventLog implements EventLog {
  private readonly events: UserEvent[] = [];
  private readonly ids = new Set<string>();

  async append(events: readonly UserEvent[]): Promise<{ inserted: UserEvent[]; duplicates: string[] }> {
    const inserted: UserEvent[] = [];
    const duplicates: string[] = [];
    for (const e of events) {
      if (this.ids.has(e.eventId)) {
        duplicates.push(e.eventId);
        continue;
      }
      this.ids.add(e.eventId);
      this.events.push(e);
      inserted.push(e);
    }
    return { inserted, duplicates };
  }

  async *scan(
    options: { from?: number; to?: number; userId?: string; batchSize?: number } = {},
  ): AsyncIterable<UserEvent[]> {
    const matching = this.events
      .filter(
        (e) =>
          (options.from === undefined || e.timestamp >= options.from) &&
          (options.to === undefined || e.timestamp < options.to) &&
          (options.userId === undefined || e.userId === options.userId),
      )
      .sort((a, b) => a.timestamp - b.timestamp); // stable: ties keep arrival order, as the SQLite seq does
    const size = options.batchSize ?? 5000;
    for (let i = 0; i < matching.length; i += size) yield matching.slice(i, i + size);
  }

  async count(): Promise<number> {
    return this.events.length;
  }

  async close(): Promise<void> {}
}
