import { FEATURE_LAYERS, type PolicyCandidate, type PolicyInput } from "../bandit/policy.js";
import type { FeatureMap } from "../core/types.js";
import type { LoggedSlot } from "../decisions/decision-record.js";
import type { JoinConfig } from "../decisions/join-config.js";
import { openWindow, type WindowState } from "../decisions/reward-reducer.js";
import { pendingWindowBytes } from "./learning-bytes.js";

/**
 * An open reward window as the learner holds it (app/learning.ts): a few flat arrays instead of an object graph.
 * Tens of thousands are open at once (10 minutes of traffic), so their object count sets both the heap they
 * keep and the time each major GC spends marking them. What it keeps is exactly what an update reads
 * (bandit/policy.ts PolicyFeedback) and what the reward join needs, and both are rebuilt on demand:
 * - `numbers` (one Float64Array): per slot its position, propensity and recommender score (NaN: none), then the
 *   numeric request features of the shown candidates, packed in their shapes' key order;
 * - per slot: the item id, the catalog features object (shared by every request for that item version, so free
 *   here), and either an interned key list (the request features were all numbers: their values are in
 *   `numbers`) or a plain copy of the candidate's features (anything else);
 * - the reducer's WindowState only once a reward arrives (most windows never see one: they learn the default at
 *   close from a state built then), so a window costs no SlotState objects while it waits.
 * The fields stay recoverable for a checkpoint: decision and policy ids, `inputOf`, `propensityOf`, `windowOf`.
 */
export interface PendingWindow {
  readonly decisionId: string;
  readonly policyId: string;
  /** When the decision was made: rewards dated before it are refused (app/reward.ts). */
  readonly decidedAt: number;
  /** When the window was opened (the decision's activation): the reducer's state is built from it. */
  readonly activatedAt: number;
  /** The window's end (exclusive) on the server's clock. */
  readonly closesAt: number;
  readonly context: FeatureMap;
  readonly profile: FeatureMap | undefined;
  readonly itemIds: readonly string[];
  readonly bases: readonly (FeatureMap | undefined)[];
  /** Per slot: the interned keys of packed numeric request features, a plain features copy, or undefined. */
  readonly overlays: readonly (readonly string[] | FeatureMap | undefined)[];
  readonly numbers: Float64Array;
  /** The reducer's state, built when the first reward arrives. */
  state: WindowState | undefined;
  readonly bytes: number;
  /** Rewards received inside the window whose write is still in flight: the window waits for them. */
  inFlight: number;
  /** The window's end passed while rewards were in flight: close it when the last one settles. */
  closeDue: boolean;
}

/** Per-slot numbers before the packed features: position, propensity, score. */
const PER_SLOT = 3;

/**
 * What open windows share instead of holding a copy each: interned key lists of numeric request features (a
 * request's candidates share one shape, e.g. price+discount), and item ids. An item id arrives as a fresh string
 * parsed from every request's body, so 10 shown slots kept ~320 B of id strings per window (a quarter of it);
 * interned, a window holds 10 pointers to one string per item. Bounded: past MAX_SHAPES distinct shapes new
 * ones are kept as plain copies, past MAX_SHARED_IDS new ids stay the window's own (and are counted as such).
 */
const MAX_SHAPES = 1024;
const MAX_SHARED_IDS = 200_000;

export class FeatureShapes {
  private readonly shapes = new Map<string, readonly string[]>();
  private readonly ids = new Map<string, string>();
  private last: readonly string[] = [];

  constructor(private readonly maxSharedIds = MAX_SHARED_IDS) {}

  /** The shared copy of an item id, or the id itself past the bound. */
  sharedId(id: string): string {
    const known = this.ids.get(id);
    if (known !== undefined) return known;
    if (this.ids.size < this.maxSharedIds) this.ids.set(id, id);
    return id;
  }

  /** Whether `id` is in the shared table (then `sharedId` gave windows its one copy: they pay no bytes for it). */
  isShared(id: string): boolean {
    return this.ids.has(id);
  }

  /** The interned keys of `map` when all its values are finite numbers, else undefined. */
  numericShape(map: FeatureMap): readonly string[] | undefined {
    let i = 0;
    let same = true;
    for (const key in map) {
      if (typeof map[key] !== "number") return undefined;
      same &&= this.last[i] === key;
      i++;
    }
    if (same && i === this.last.length) return this.last;
    const keys = Object.keys(map);
    const id = keys.join("\u0000");
    let shape = this.shapes.get(id);
    if (!shape) {
      if (this.shapes.size >= MAX_SHAPES) return undefined;
      shape = Object.freeze(keys);
      this.shapes.set(id, shape);
    }
    this.last = shape;
    return shape;
  }
}

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

/** Packs a decision's shown slots into a window (the candidates' feature objects are copied, never kept). */
export function packWindow(
  src: WindowSource,
  join: Pick<JoinConfig, "windowMs">,
  shapes: FeatureShapes,
): PendingWindow {
  const k = src.slots.length;
  const itemIds: string[] = new Array(k);
  const bases: (FeatureMap | undefined)[] = new Array(k);
  const overlays: (readonly string[] | FeatureMap | undefined)[] = new Array(k);
  let packed = 0;
  for (let s = 0; s < k; s++) {
    const slot = src.slots[s]!;
    const c = src.input.candidates[slot.index]!;
    itemIds[s] = shapes.sharedId(slot.itemId);
    const layers = c[FEATURE_LAYERS];
    const overlay = layers ? layers[1] : c.features;
    bases[s] = layers ? layers[0] : undefined;
    const shape = overlay && shapes.numericShape(overlay);
    overlays[s] = shape ?? (overlay && Object.assign({}, overlay));
    if (shape) packed += shape.length;
  }
  const numbers = new Float64Array(PER_SLOT * k + packed);
  let at = PER_SLOT * k;
  for (let s = 0; s < k; s++) {
    const slot = src.slots[s]!;
    const c = src.input.candidates[slot.index]!;
    numbers[PER_SLOT * s] = slot.position;
    numbers[PER_SLOT * s + 1] = slot.propensity;
    numbers[PER_SLOT * s + 2] = c.score ?? Number.NaN;
    const shape = overlays[s];
    if (!Array.isArray(shape)) continue;
    const overlay = (layersOf(c)?.[1] ?? c.features) as FeatureMap;
    for (const key of shape) numbers[at++] = overlay[key] as number;
  }
  const window: Omit<PendingWindow, "bytes"> = {
    decisionId: src.decisionId,
    policyId: src.policyId,
    decidedAt: src.decidedAt,
    activatedAt: src.activatedAt,
    closesAt: src.activatedAt + join.windowMs,
    context: src.input.context,
    profile: src.profile,
    itemIds,
    bases,
    overlays,
    numbers,
    state: undefined,
    inFlight: 0,
    closeDue: false,
  };
  return Object.assign(window, { bytes: pendingWindowBytes(window, (id) => shapes.isShared(id)) });
}

function layersOf(c: PolicyCandidate) {
  return c[FEATURE_LAYERS];
}

export function slotCount(w: PendingWindow): number {
  return w.itemIds.length;
}

export function propensityOf(w: PendingWindow, slot: number): number {
  return w.numbers[PER_SLOT * slot + 1]!;
}

export function positionOf(w: PendingWindow, slot: number): number {
  return w.numbers[PER_SLOT * slot]!;
}

/** The reducer's state of the window, built (as openWindow would have at activation) on first use. */
export function windowOf(w: PendingWindow, join: Pick<JoinConfig, "windowMs">): WindowState {
  if (!w.state) {
    const slots = w.itemIds.map((itemId, s) => ({ itemId, position: positionOf(w, s) }));
    w.state = openWindow(slots, w.activatedAt, join);
  }
  return w.state;
}

/**
 * The policy input of the shown candidates (slot i's candidate is `candidates[i]`), as rank built it: a
 * catalog-and-request candidate is `{ ...catalog, ...request }` with its layers, so the encoder reuses the
 * catalog block. Built fresh per call; the caller reuses it for every effect of one reward or close.
 * `upTo`: only slots [0, upTo), what an update of slot upTo − 1 reads (the slot and those placed before it):
 * a reward learns one slot, mostly a top one, and merging every shown slot's features for it was most of the
 * cost of this input.
 */
export function inputOf(w: PendingWindow, upTo = slotCount(w)): PolicyInput {
  const k = slotCount(w);
  const n = Math.min(k, upTo);
  const candidates: PolicyCandidate[] = new Array(n);
  let at = PER_SLOT * k;
  for (let s = 0; s < n; s++) {
    const shape = w.overlays[s];
    let overlay: FeatureMap | undefined;
    if (Array.isArray(shape)) {
      overlay = {};
      for (const key of shape as readonly string[]) overlay[key] = w.numbers[at++]!;
    } else overlay = shape as FeatureMap | undefined;
    const base = w.bases[s];
    const c: PolicyCandidate = { id: w.itemIds[s]! };
    if (base && overlay) {
      c.features = Object.assign({}, base, overlay); // as rank merges them (app/rank.ts enrichedCandidate)
      c[FEATURE_LAYERS] = [base, overlay];
    } else if (overlay ?? base) c.features = (overlay ?? base) as FeatureMap;
    const score = w.numbers[PER_SLOT * s + 2]!;
    if (!Number.isNaN(score)) c.score = score;
    candidates[s] = c;
  }
  const input: PolicyInput = { context: w.context, candidates };
  if (w.profile) input.profile = w.profile;
  return input;
}
