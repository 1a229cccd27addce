import { compareIds, type SessionSequence } from "./session-dataset.js";

/**
 * The next-item evaluation protocol, P1–P6 of ../shared/data/sessions/PROTOCOL.md, as pure functions over
 * parsed clicks (file reading lives in the CLI). Times are seconds, as in the data files.
 */
export interface ProtocolClick {
  sessionId: string;
  itemId: string;
  time: number;
  /** Position in the concatenated input files: P1's last tie-break. */
  fileOrder: number;
}

export interface ProtocolSplit {
  /** Sessions in sessionId order; `end` is max(time) after P4 (P5's sessionEnd). */
  train: SessionSequence[];
  test: SessionSequence[];
}

export function applyProtocol(clicks: readonly ProtocolClick[], testDays: number): ProtocolSplit {
  // P1: sort by (sessionId, time, fileOrder); keep repeats.
  const sorted = [...clicks].sort(
    (a, b) => compareIds(a.sessionId, b.sessionId) || a.time - b.time || a.fileOrder - b.fileOrder,
  );
  // P2: drop sessions with fewer than 2 clicks.
  let sessions = groupSessions(sorted).filter((s) => s.length >= 2);
  // P3: drop items with fewer than 5 clicks, counted once on the P2 result.
  const counts = new Map<string, number>();
  for (const s of sessions) for (const c of s) counts.set(c.itemId, (counts.get(c.itemId) ?? 0) + 1);
  sessions = sessions.map((s) => s.filter((c) => (counts.get(c.itemId) ?? 0) >= 5));
  // P4: drop sessions that now have fewer than 2 clicks.
  sessions = sessions.filter((s) => s.length >= 2);
  // P5: time split on session end.
  const ends = sessions.map((s) => s.reduce((a, c) => Math.max(a, c.time), Number.NEGATIVE_INFINITY));
  const tmax = ends.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  const train: SessionSequence[] = [];
  const testRaw: { id: string; clicks: ProtocolClick[]; end: number }[] = [];
  sessions.forEach((s, k) => {
    const end = ends[k]!;
    if (end >= tmax - testDays * 86400) testRaw.push({ id: s[0]!.sessionId, clicks: s, end });
    else train.push({ id: s[0]!.sessionId, items: s.map((c) => c.itemId), end });
  });
  // P6: in test, drop clicks on items unseen in train, then sessions shorter than 2.
  const trainItems = new Set(train.flatMap((s) => s.items));
  const test = testRaw
    .map((s) => ({ id: s.id, items: s.clicks.map((c) => c.itemId).filter((i) => trainItems.has(i)), end: s.end }))
    .filter((s) => s.items.length >= 2);
  return { train, test };
}

function groupSessions(sorted: readonly ProtocolClick[]): ProtocolClick[][] {
  const out: ProtocolClick[][] = [];
  let cur: ProtocolClick[] = [];
  for (const c of sorted) {
    if (cur.length > 0 && cur[0]!.sessionId !== c.sessionId) {
      out.push(cur);
      cur = [];
    }
    cur.push(c);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Parses `SessionId ItemId Time` tab-separated text (yoochoose prepared files), continuing fileOrder. */
export function parseYoochoose(text: string, firstOrder = 0): ProtocolClick[] {
  return dataLines(text).map((line, k) => {
    const [sessionId, itemId, time] = line.split("\t");
    return { sessionId: sessionId!, itemId: itemId!, time: Number(time), fileOrder: firstOrder + k };
  });
}

/** Parses diginetica `session_id;user_id;item_id;timeframe;eventdate`: time = eventdate (UTC) + timeframe/1000. */
export function parseDiginetica(text: string, firstOrder = 0): ProtocolClick[] {
  return dataLines(text).map((line, k) => {
    const [sessionId, , itemId, timeframe, date] = line.split(";");
    const time = Date.parse(`${date}T00:00:00Z`) / 1000 + Number(timeframe) / 1000;
    return { sessionId: sessionId!, itemId: itemId!, time, fileOrder: firstOrder + k };
  });
}

/** Parses protocol_train/test.tsv (`SessionId ItemId Position SessionEndTime`) into sessions, in file order. */
export function parseProtocolFile(text: string): SessionSequence[] {
  const out: SessionSequence[] = [];
  let cur: { id: string; items: string[]; end: number } | undefined;
  for (const line of dataLines(text)) {
    const [sessionId, itemId, , end] = line.split("\t");
    if (!cur || cur.id !== sessionId) {
      cur = { id: sessionId!, items: [], end: Number(end) };
      out.push(cur);
    }
    cur.items.push(itemId!);
  }
  return out;
}

function dataLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .slice(1)
    .filter((l) => l.trim() !== "");
}

/**
 * A validation split inside train, by the same rule as P5–P6: the last `days` of train sessions become the
 * validation set. Tuning on it keeps the test split unseen until the final report.
 */
export function validationSplit(train: readonly SessionSequence[], days: number): ProtocolSplit {
  const tmax = train.reduce((a, s) => Math.max(a, s.end), Number.NEGATIVE_INFINITY);
  const fit = train.filter((s) => s.end < tmax - days * 86400);
  const known = new Set(fit.flatMap((s) => s.items));
  const test = train
    .filter((s) => s.end >= tmax - days * 86400)
    .map((s) => ({ ...s, items: s.items.filter((i) => known.has(i)) }))
    .filter((s) => s.items.length >= 2);
  return { train: fit, test };
}
