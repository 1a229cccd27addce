import { FEATURE_LAYERS, type PolicyCandidate, type PolicyInput } from "../bandit/policy.js";
import type { FeatureMap, FeatureValue } from "../core/types.js";
import type { LoggedSlot } from "../decisions/decision-record.js";
import type { JoinConfig } from "../decisions/join-config.js";
import { openWindow, type WindowState } from "../decisions/reward-reducer.js";
import { featureMapBytes, STRING_SHARE, stringBytes, windowRecordBytes } from "./learning-bytes.js";
import { RecordSlabs } from "./record-slabs.js";
import { RefTable } from "./ref-table.js";

/**
 * An open reward window as the learner holds it (app/learning.ts): one Float64Array, a view into a shared slab
 * (record-slabs.ts), and nothing else. ~100k are open at once at saturation (the byte cap), and the time each
 * major GC spends marking is set by how many objects and pointers are live, not by bytes in ArrayBuffers: the
 * window as an object graph (object, three arrays, a typed array and its buffer, three heap numbers, the request's
 * context object and its strings) made ~1M long-lived objects, and the soak's worst pauses were their marking.
 * Everything a window references lives in its packer's tables instead, refcounted (ref-table.ts): item ids,
 * catalog feature objects, policy ids and string feature values once for every window that shows them, freed
 * with the last window holding them.
 *
 * Layout (all doubles): the header (HEADER fields), then per slot its position, propensity, score (NaN: none),
 * item id ref, catalog features ref (NaN: none) and request features (a map slot), then the packed values of the
 * context's, the profile's and the slots' request features in that order. A map slot is NaN (no map), a shape
 * id >= 0 (its values follow in the tail, in the shape's key order: numbers as they are, strings as refs,
 * booleans as 0/1), or −1 − ref of a plain copy kept in the table (a shape past the table's bound).
 * What an update reads (bandit/policy.ts PolicyFeedback) and what the reward join needs are rebuilt on demand.
 */
export type PendingWindow = Float64Array;

/** The header's fields. */
export const Field = {
  DecidedAt: 0,
  /** When the window was opened (the decision's activation): the reducer's state is built from it. */
  ActivatedAt: 1,
  /** The window's end (exclusive) on the server's clock. */
  ClosesAt: 2,
  Policy: 3,
  Slots: 4,
  Context: 5,
  Profile: 6,
  /** Rewards received inside the window whose write is still in flight: the window waits for them. */
  InFlight: 7,
  /** 1: the window's end passed while rewards were in flight: close it when the last one settles. */
  CloseDue: 8,
  /** Estimated heap bytes (app/learning-bytes.ts). */
  Bytes: 9,
} as const;
const HEADER = 10;
const PER_SLOT = 6;
const POSITION = 0;
const PROPENSITY = 1;
const SCORE = 2;
const ITEM = 3;
const BASE = 4;
const OVERLAY = 5;

/** Kinds of a packed feature value. */
const NUMBER = 0;
const STRING = 1;
const BOOLEAN = 2;

interface Shape {
  readonly keys: readonly string[];
  readonly kinds: Uint8Array;
}

/** Distinct feature-map shapes (key lists with their value kinds) kept; past it, maps are kept as copies. */
const MAX_SHAPES = 1024;

export interface WindowSource {
  decisionId: string;
  policyId: string;
  decidedAt: number;
  activatedAt: number;
  slots: readonly Pick<LoggedSlot, "itemId" | "position" | "index" | "propensity">[];
  input: PolicyInput;
  /** The profile features the policy's update reads (undefined: none). */
  profile: FeatureMap | undefined;
}

/**
 * Packs windows and reads them back. Owns what windows share: the ref table, the feature-map shapes and the
 * record slabs. `release` must be called once for every packed window that is dropped.
 */
export class WindowPacker {
  private readonly refs = new RefTable();
  private readonly shapes: Shape[] = [];
  private readonly shapeIds = new Map<string, number>();
  private readonly slabs = new RecordSlabs();
  /**
   * The last shape found per role (context, profile, request features), checked before building a signature:
   * a request's candidates share one shape, and consecutive requests mostly repeat theirs.
   */
  private readonly last = [-1, -1, -1];
  private readonly maps: (FeatureMap | undefined)[] = [];
  private readonly mapShapes: number[] = [];
  /** The estimated bytes of the window being packed. */
  private packedBytes = 0;

  /** Distinct values the windows reference now (item ids, catalog objects, strings): for tests and /metrics. */
  get sharedValues(): number {
    return this.refs.size;
  }

  /** Packs a decision's shown slots (the candidates' feature objects are read, never kept). */
  pack(src: WindowSource, join: Pick<JoinConfig, "windowMs">): PendingWindow {
    const k = src.slots.length;
    // Scratch lists reused by every pack (rank calls this once per decision: no garbage for it).
    const { maps, mapShapes: shapes } = this;
    maps.length = 0;
    shapes.length = 0;
    maps.push(src.input.context, src.profile);
    shapes.push(this.shapeOf(src.input.context, 0), this.shapeOf(src.profile, 1));
    for (let s = 0; s < k; s++) {
      const c = src.input.candidates[src.slots[s]!.index]!;
      const layers = c[FEATURE_LAYERS];
      const overlay = layers ? layers[1] : c.features;
      maps.push(overlay);
      shapes.push(this.shapeOf(overlay, 2));
    }
    let tail = 0;
    for (const id of shapes) if (id >= 0) tail += this.shapes[id]!.keys.length;
    const w = this.slabs.alloc(HEADER + PER_SLOT * k + tail);
    this.packedBytes = windowRecordBytes(w.length) + stringBytes(src.decisionId);
    w[Field.DecidedAt] = src.decidedAt;
    w[Field.ActivatedAt] = src.activatedAt;
    w[Field.ClosesAt] = src.activatedAt + join.windowMs;
    w[Field.Policy] = this.refs.acquire(src.policyId);
    w[Field.Slots] = k;
    let at = HEADER + PER_SLOT * k;
    for (let m = 0; m < maps.length; m++) {
      const field = m === 0 ? Field.Context : m === 1 ? Field.Profile : HEADER + PER_SLOT * (m - 2) + OVERLAY;
      w[field] = this.packMap(maps[m], shapes[m]!, w, at);
      if (shapes[m]! >= 0) at += this.shapes[shapes[m]!]!.keys.length;
    }
    for (let s = 0; s < k; s++) {
      const slot = src.slots[s]!;
      const c = src.input.candidates[slot.index]!;
      const o = HEADER + PER_SLOT * s;
      w[o + POSITION] = slot.position;
      w[o + PROPENSITY] = slot.propensity;
      w[o + SCORE] = c.score ?? Number.NaN;
      w[o + ITEM] = this.refs.acquire(slot.itemId); // item ids: the catalog's, shared by every window
      const base = c[FEATURE_LAYERS]?.[0];
      w[o + BASE] = base ? this.refs.acquire(base) : Number.NaN; // catalog objects: shared, never counted
    }
    w[Field.Bytes] = this.packedBytes;
    maps.length = 0; // no request's objects kept past the call
    return w;
  }

  /** Gives back what a dropped window referenced (its record's space is reclaimed with its slab). */
  release(w: PendingWindow): void {
    this.refs.release(w[Field.Policy]!);
    let at = HEADER + PER_SLOT * slotCount(w);
    at = this.releaseMap(w[Field.Context]!, w, at);
    at = this.releaseMap(w[Field.Profile]!, w, at);
    for (let s = 0; s < slotCount(w); s++) {
      const o = HEADER + PER_SLOT * s;
      this.refs.release(w[o + ITEM]!);
      if (!Number.isNaN(w[o + BASE]!)) this.refs.release(w[o + BASE]!);
      at = this.releaseMap(w[o + OVERLAY]!, w, at);
    }
  }

  policyOf(w: PendingWindow): string {
    return this.refs.get(w[Field.Policy]!) as string;
  }

  itemIds(w: PendingWindow): string[] {
    const out: string[] = new Array(slotCount(w));
    for (let s = 0; s < out.length; s++) out[s] = this.refs.get(w[HEADER + PER_SLOT * s + ITEM]!) as string;
    return out;
  }

  /** The profile features kept for the policy's update. */
  profileOf(w: PendingWindow): FeatureMap | undefined {
    return this.unpackMap(w[Field.Profile]!, w, this.tailStart(w, 1));
  }

  /** The reducer's state of the window, as openWindow would have built it at activation. */
  windowState(w: PendingWindow, join: Pick<JoinConfig, "windowMs">): WindowState {
    const slots = this.itemIds(w).map((itemId, s) => ({ itemId, position: positionOf(w, s) }));
    return openWindow(slots, w[Field.ActivatedAt], join);
  }

  /**
   * The policy input of the shown candidates (slot i's candidate is `candidates[i]`), as rank built it: a
   * catalog-and-request candidate is `{ ...catalog, ...request }` with its layers, so the encoder reuses the
   * catalog block. Built fresh per call; the caller reuses it for every effect of one reward or close.
   * `upTo`: only slots [0, upTo), what an update of slot upTo − 1 reads (the slot and those placed before it).
   */
  inputOf(w: PendingWindow, upTo = slotCount(w)): PolicyInput {
    const n = Math.min(slotCount(w), upTo);
    const candidates: PolicyCandidate[] = new Array(n);
    let at = this.tailStart(w, 2);
    for (let s = 0; s < n; s++) {
      const o = HEADER + PER_SLOT * s;
      const overlay = this.unpackMap(w[o + OVERLAY]!, w, at);
      at += this.tailLength(w[o + OVERLAY]!);
      const base = Number.isNaN(w[o + BASE]!) ? undefined : (this.refs.get(w[o + BASE]!) as FeatureMap);
      const c: PolicyCandidate = { id: this.refs.get(w[o + ITEM]!) as string };
      if (base && overlay) {
        c.features = Object.assign({}, base, overlay); // as rank merges them (app/rank.ts enrichedCandidate)
        c[FEATURE_LAYERS] = [base, overlay];
      } else if (overlay ?? base) c.features = (overlay ?? base) as FeatureMap;
      const score = w[o + SCORE]!;
      if (!Number.isNaN(score)) c.score = score;
      candidates[s] = c;
    }
    const context = this.unpackMap(w[Field.Context]!, w, HEADER + PER_SLOT * slotCount(w)) ?? {};
    const input: PolicyInput = { context, candidates };
    const profile = this.profileOf(w);
    if (profile) input.profile = profile;
    return input;
  }

  /** Where the packed values of map `m` start (0: context, 1: profile, 2 + s: slot s's request features). */
  private tailStart(w: PendingWindow, m: number): number {
    let at = HEADER + PER_SLOT * slotCount(w);
    if (m > 0) at += this.tailLength(w[Field.Context]!);
    if (m > 1) at += this.tailLength(w[Field.Profile]!);
    return at;
  }

  private tailLength(slot: number): number {
    return slot >= 0 ? this.shapes[slot]!.keys.length : 0;
  }

  private packMap(map: FeatureMap | undefined, shape: number, w: PendingWindow, at: number): number {
    if (!map) return Number.NaN;
    if (shape < 0) {
      const copy = Object.assign({}, map); // the request's own object is never kept
      this.packedBytes += featureMapBytes(copy);
      return -1 - this.refs.acquire(copy);
    }
    const { keys, kinds } = this.shapes[shape]!;
    for (let i = 0; i < keys.length; i++) {
      const v = map[keys[i]!]!;
      if (kinds[i] === NUMBER) w[at + i] = v as number;
      else if (kinds[i] === BOOLEAN) w[at + i] = v ? 1 : 0;
      else {
        // A string value is shared by the windows holding it; each pays a share (the same for every window,
        // so the byte cap closes windows in order whatever came first).
        w[at + i] = this.refs.acquire(v as string);
        this.packedBytes += STRING_SHARE;
      }
    }
    return shape;
  }

  private releaseMap(slot: number, w: PendingWindow, at: number): number {
    if (Number.isNaN(slot)) return at;
    if (slot < 0) {
      this.refs.release(-1 - slot);
      return at;
    }
    const { kinds } = this.shapes[slot]!;
    for (let i = 0; i < kinds.length; i++) if (kinds[i] === STRING) this.refs.release(w[at + i]!);
    return at + kinds.length;
  }

  private unpackMap(slot: number, w: PendingWindow, at: number): FeatureMap | undefined {
    if (Number.isNaN(slot)) return undefined;
    if (slot < 0) return this.refs.get(-1 - slot) as FeatureMap;
    const { keys, kinds } = this.shapes[slot]!;
    const map: FeatureMap = {};
    for (let i = 0; i < keys.length; i++) {
      const v = w[at + i]!;
      map[keys[i]!] = kinds[i] === NUMBER ? v : kinds[i] === BOOLEAN ? v === 1 : (this.refs.get(v) as string);
    }
    return map;
  }

  /** The shape id of `map` (its keys in order and their value kinds), -1 past the bound, NaN for no map. */
  private shapeOf(map: FeatureMap | undefined, role: number): number {
    if (!map) return Number.NaN;
    const lastShape = this.shapes[this.last[role]!];
    let i = 0;
    let same = lastShape !== undefined;
    for (const key in map) {
      same &&= lastShape!.keys[i] === key && lastShape!.kinds[i] === kindOf(map[key]!);
      i++;
    }
    if (same && i === lastShape!.keys.length) return this.last[role]!;
    const keys = Object.keys(map);
    const kinds = Uint8Array.from(keys, (key) => kindOf(map[key]!));
    const signature = `${keys.join("\u0000")}\u0001${kinds.join("")}`;
    let id = this.shapeIds.get(signature);
    if (id === undefined) {
      if (this.shapes.length >= MAX_SHAPES) return -1;
      id = this.shapes.length;
      this.shapes.push({ keys: Object.freeze(keys), kinds });
      this.shapeIds.set(signature, id);
    }
    this.last[role] = id;
    return id;
  }
}

function kindOf(v: FeatureValue): number {
  return typeof v === "number" ? NUMBER : typeof v === "string" ? STRING : BOOLEAN;
}

export function slotCount(w: PendingWindow): number {
  return w[Field.Slots]!;
}

export function propensityOf(w: PendingWindow, slot: number): number {
  return w[HEADER + PER_SLOT * slot + PROPENSITY]!;
}

export function positionOf(w: PendingWindow, slot: number): number {
  return w[HEADER + PER_SLOT * slot + POSITION]!;
}
