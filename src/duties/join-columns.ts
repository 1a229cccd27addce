import type { OpenWindow } from "../app/learning.js";
import type { WindowSource } from "../app/pending-window.js";
import type { PolicyCandidate, PolicyInput } from "../bandit/policy.js";
import type { FeatureMap } from "../core/types.js";
import type { SlotState, WindowState } from "../decisions/reward-reducer.js";

/**
 * The join's open windows, deferred decisions and seen ids as a few flat columns, for the full learner
 * checkpoint (learner-checkpoint.ts, format 2). Why not the V8 serializer on the plain objects, as before: at
 * 53k open windows that was ~15 objects and ~40 property names written per window (the serializer does not
 * share keys), 25 MB and ~0.6 s of CPU in one synchronous call, on the event loop that also renews the
 * worker's leases. Columns hold each number once as a double (exact, -0 and NaN included), every small count,
 * flag and string reference as a Uint32, unique ids (decision and reward ids) once in one joined string, and
 * repeated strings (item ids, policy ids, feature names and string values) once in a dictionary. A feature
 * map's key list is a "shape" written once, so a map costs its values only; its key order is kept (the
 * encoder hashes in that order, which the restored policy updates must repeat bit for bit).
 *
 * The encoder is fed windows in batches (`add`), so the caller can yield to the event loop between them; the
 * container (typed arrays, one string, a string list) is then one V8 serialize call, mostly memory copies.
 */
export interface JoinColumns {
  windows: number;
  awaiting: number;
  seen: number;
  ints: Uint32Array;
  nums: Float64Array;
  /** Unique strings, joined; `idLengths` splits them. */
  ids: string;
  idLengths: Uint32Array;
  /** Repeated strings, each once. */
  dict: string[];
  /** The deferred decisions' record bytes, concatenated (lengths in `ints`). */
  blobs: Uint8Array;
}

/** A deferred decision waiting for its activation (learner-join.ts `Awaiting`). */
export interface AwaitingDecision {
  timestamp: number;
  bytes: Uint8Array;
}

// Tags of a feature value (FeatureValue is number | string | boolean).
const NUMBER = 0;
const STRING = 1;
const FALSE = 2;
const TRUE = 3;
// input.profile: absent, the same map as source.profile (what LearningLoop gives), or a map of its own.
const NO_PROFILE = 0;
const SAME_PROFILE = 1;
const OWN_PROFILE = 2;

/** A typed array that grows by doubling (the column's final length is unknown until the last window). */
class Column<A extends Float64Array | Uint32Array> {
  private length = 0;
  constructor(private array: A) {}

  push(value: number): void {
    if (this.length === this.array.length) {
      const grown = new (this.array.constructor as new (n: number) => A)(this.array.length * 2);
      grown.set(this.array);
      this.array = grown;
    }
    this.array[this.length++] = value;
  }

  done(): A {
    return this.array.slice(0, this.length) as A;
  }
}

export class JoinColumnsWriter {
  private readonly ints = new Column(new Uint32Array(4096));
  private readonly nums = new Column(new Float64Array(4096));
  private readonly ids: string[] = [];
  private readonly idLengths = new Column(new Uint32Array(1024));
  private readonly dict = new Map<string, number>();
  private readonly shapes = new Map<string, number>();
  private readonly blobs: Uint8Array[] = [];
  private counts = { windows: 0, awaiting: 0, seen: 0 };

  /** Windows in close order; call as often as needed, before `addAwaiting` and `addSeen`. */
  addWindows(windows: readonly OpenWindow[]): void {
    for (const w of windows) this.window(w);
    this.counts.windows += windows.length;
  }

  addAwaiting(entries: Iterable<[string, AwaitingDecision]>): void {
    for (const [id, a] of entries) {
      this.id(id);
      this.nums.push(a.timestamp);
      this.ints.push(a.bytes.byteLength);
      this.blobs.push(a.bytes);
      this.counts.awaiting++;
    }
  }

  addSeen(entries: Iterable<[string, number]>): void {
    for (const [id, forgetAt] of entries) {
      this.id(id);
      this.nums.push(forgetAt);
      this.counts.seen++;
    }
  }

  done(): JoinColumns {
    return {
      ...this.counts,
      ints: this.ints.done(),
      nums: this.nums.done(),
      ids: this.ids.join(""),
      idLengths: this.idLengths.done(),
      dict: [...this.dict.keys()],
      blobs: concatBytes(this.blobs),
    };
  }

  private window({ source, state }: OpenWindow): void {
    const { ints, nums } = this;
    this.id(source.decisionId);
    ints.push(this.word(source.policyId));
    nums.push(source.decidedAt);
    nums.push(source.activatedAt);
    ints.push(source.slots.length);
    for (const slot of source.slots) {
      ints.push(this.word(slot.itemId));
      nums.push(slot.index);
      nums.push(slot.position);
      nums.push(slot.propensity);
    }
    this.input(source.input, source.profile);
    this.featureMap(source.profile);
    if (state) this.state(state);
    else ints.push(0);
  }

  private input(input: PolicyInput, profile: FeatureMap | undefined): void {
    this.featureMap(input.context);
    this.ints.push(input.candidates.length);
    for (const c of input.candidates) {
      this.ints.push(this.word(c.id));
      this.featureMap(c.features);
      this.ints.push(c.score === undefined ? 0 : 1);
      if (c.score !== undefined) this.nums.push(c.score);
    }
    if (input.profile === undefined) this.ints.push(NO_PROFILE);
    else if (input.profile === profile) this.ints.push(SAME_PROFILE);
    else {
      this.ints.push(OWN_PROFILE);
      this.featureMap(input.profile);
    }
  }

  private state(state: WindowState): void {
    const { ints, nums } = this;
    ints.push(1 | (state.active ? 2 : 0) | (state.closed ? 4 : 0));
    nums.push(state.closesAt);
    ints.push(state.slots.length);
    for (const slot of state.slots) {
      ints.push(this.word(slot.itemId) * 2 + (slot.learned ? 1 : 0));
      nums.push(slot.position);
      nums.push(slot.count);
      nums.push(slot.value);
    }
    ints.push(state.rewardIds.length);
    for (const id of state.rewardIds) this.id(id);
  }

  /** 0 for none, else 1 + the shape (its keys in order), then each value by tag. */
  private featureMap(map: FeatureMap | undefined): void {
    const { ints, nums } = this;
    if (map === undefined) {
      ints.push(0);
      return;
    }
    const keys = Object.keys(map);
    // Dictionary numbers joined: unambiguous whatever the keys contain.
    const shapeKey = keys.map((k) => this.word(k)).join(",");
    let shape = this.shapes.get(shapeKey);
    if (shape === undefined) {
      shape = this.shapes.size;
      this.shapes.set(shapeKey, shape);
      ints.push(0xffffffff); // a new shape follows, defined where first used
      ints.push(keys.length);
      for (const k of keys) ints.push(this.word(k));
    } else ints.push(shape + 1);
    for (const k of keys) {
      const value = map[k];
      if (typeof value === "number") {
        ints.push(NUMBER);
        nums.push(value);
      } else if (typeof value === "string") {
        ints.push(STRING);
        ints.push(this.word(value));
      } else if (typeof value === "boolean") ints.push(value ? TRUE : FALSE);
      else throw new TypeError(`feature "${k}" holds a ${typeof value}; a feature is a number, string or boolean`);
    }
  }

  private id(value: string): void {
    this.ids.push(value);
    this.idLengths.push(value.length);
  }

  private word(value: string): number {
    let n = this.dict.get(value);
    if (n === undefined) {
      n = this.dict.size;
      this.dict.set(value, n);
    }
    return n;
  }
}

/** The join's plain state as the columns held it. */
export interface JoinColumnsContent {
  windows: OpenWindow[];
  awaiting: [string, AwaitingDecision][];
  seen: [string, number][];
}

/** The windows, deferred decisions and seen ids `JoinColumnsWriter` wrote, as the join's plain state. */
export function readJoinColumns(c: JoinColumns): JoinColumnsContent {
  const reading = readInBatches(c, Number.POSITIVE_INFINITY);
  for (let step = reading.next(); ; step = reading.next()) if (step.done) return step.value;
}

/** The same, `batch` windows at a time with `pause()` between (a standby's start: ~0.9 s of CPU at 60k windows). */
export async function readJoinColumnsInSlices(
  c: JoinColumns,
  pause: () => Promise<void>,
  batch = 500,
): Promise<JoinColumnsContent> {
  const reading = readInBatches(c, batch);
  for (let step = reading.next(); ; step = reading.next()) {
    if (step.done) return step.value;
    await pause();
  }
}

/** Reads the columns, suspending after every `batch` windows. */
function* readInBatches(c: JoinColumns, batch: number): Generator<void, JoinColumnsContent> {
  const r = new ColumnsReader(c);
  const windows: OpenWindow[] = new Array(c.windows);
  for (let i = 0; i < c.windows; i++) {
    if (i > 0 && i % batch === 0) yield;
    windows[i] = r.window();
  }
  const awaiting: [string, AwaitingDecision][] = new Array(c.awaiting);
  for (let i = 0; i < c.awaiting; i++) {
    const id = r.id();
    awaiting[i] = [id, { timestamp: r.num(), bytes: r.blob(r.int()) }];
  }
  const seen: [string, number][] = new Array(c.seen);
  for (let i = 0; i < c.seen; i++) seen[i] = [r.id(), r.num()];
  r.end();
  return { windows, awaiting, seen };
}

class ColumnsReader {
  private at = { int: 0, num: 0, id: 0, char: 0, blob: 0 };
  private readonly shapes: string[][] = [];

  constructor(private readonly c: JoinColumns) {}

  int(): number {
    if (this.at.int >= this.c.ints.length) throw new Error("learner checkpoint: the join's columns end early");
    return this.c.ints[this.at.int++]!;
  }

  num(): number {
    if (this.at.num >= this.c.nums.length) throw new Error("learner checkpoint: the join's columns end early");
    return this.c.nums[this.at.num++]!;
  }

  id(): string {
    const length = this.c.idLengths[this.at.id++]!;
    const start = this.at.char;
    this.at.char += length;
    return this.c.ids.slice(start, this.at.char);
  }

  word(): string {
    const value = this.c.dict[this.int()];
    if (value === undefined) throw new Error("learner checkpoint: a string reference is out of range");
    return value;
  }

  blob(length: number): Uint8Array {
    const start = this.at.blob;
    this.at.blob += length;
    return new Uint8Array(this.c.blobs.subarray(start, this.at.blob)); // a copy, a plain Uint8Array as written
  }

  /** Every column read to its end: anything else is a checkpoint this code misreads. */
  end(): void {
    const { c, at } = this;
    const whole = at.int === c.ints.length && at.num === c.nums.length && at.char === c.ids.length;
    if (!whole || at.blob !== c.blobs.byteLength)
      throw new Error("learner checkpoint: the join's columns do not add up");
  }

  window(): OpenWindow {
    const decisionId = this.id();
    const policyId = this.word();
    const decidedAt = this.num();
    const activatedAt = this.num();
    const slots: WindowSource["slots"][number][] = new Array(this.int());
    for (let s = 0; s < slots.length; s++) {
      const itemId = this.word();
      slots[s] = { itemId, index: this.num(), position: this.num(), propensity: this.num() };
    }
    const input = this.input();
    const profile = this.featureMap();
    if (input.profile === SAME_PROFILE_MARK) {
      if (profile) input.profile = profile;
      else delete input.profile;
    }
    const source: WindowSource = { decisionId, policyId, decidedAt, activatedAt, slots, input, profile };
    return { source, state: this.state() };
  }

  private input(): PolicyInput & { profile?: FeatureMap } {
    const context = this.featureMap() ?? {};
    const candidates: PolicyCandidate[] = new Array(this.int());
    for (let i = 0; i < candidates.length; i++) {
      const c: PolicyCandidate = { id: this.word() };
      const features = this.featureMap();
      if (features) c.features = features;
      if (this.int() === 1) c.score = this.num();
      candidates[i] = c;
    }
    const input: PolicyInput = { context, candidates };
    const profile = this.int();
    if (profile === SAME_PROFILE) input.profile = SAME_PROFILE_MARK;
    else if (profile === OWN_PROFILE) input.profile = this.featureMap();
    return input;
  }

  private state(): WindowState | undefined {
    const flags = this.int();
    if (flags === 0) return undefined;
    const closesAt = this.num();
    const slots: SlotState[] = new Array(this.int());
    for (let s = 0; s < slots.length; s++) {
      const word = this.int();
      const itemId = this.c.dict[word >>> 1];
      if (itemId === undefined) throw new Error("learner checkpoint: a string reference is out of range");
      slots[s] = { itemId, position: this.num(), count: this.num(), value: this.num(), learned: (word & 1) === 1 };
    }
    const rewardIds: string[] = new Array(this.int());
    for (let i = 0; i < rewardIds.length; i++) rewardIds[i] = this.id();
    return { closesAt, active: (flags & 2) !== 0, closed: (flags & 4) !== 0, slots, rewardIds };
  }

  private featureMap(): FeatureMap | undefined {
    let shapeRef = this.int();
    if (shapeRef === 0) return undefined;
    if (shapeRef === 0xffffffff) {
      const keys: string[] = new Array(this.int());
      for (let i = 0; i < keys.length; i++) keys[i] = this.word();
      this.shapes.push(keys);
      shapeRef = this.shapes.length;
    }
    const keys = this.shapes[shapeRef - 1];
    if (!keys) throw new Error("learner checkpoint: a feature shape reference is out of range");
    const map: FeatureMap = {};
    for (const k of keys) {
      const tag = this.int();
      const value = tag === NUMBER ? this.num() : tag === STRING ? this.word() : tag === TRUE;
      // A key "__proto__" (JSON.parse makes it an own property) must stay a property, not set the prototype.
      if (k === "__proto__")
        Object.defineProperty(map, k, { value, enumerable: true, writable: true, configurable: true });
      else map[k] = value;
    }
    return map;
  }
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Stands in for "input.profile is source.profile" until the source's profile is read. */
const SAME_PROFILE_MARK: FeatureMap = Object.freeze({}) as FeatureMap;
