import { arr } from "./model-family.js";
import type { SessionDataset } from "./session-dataset.js";
import type { StateArray } from "./session-model.js";

/** The part of a dataset the neighbourhood models keep to serve (their whole state besides parameters). */
export type KnnIndex = Pick<
  SessionDataset,
  | "sessionCount"
  | "sessionEnd"
  | "seqOffsets"
  | "seqItems"
  | "setOffsets"
  | "setItems"
  | "itemSessOffsets"
  | "itemSessions"
>;

export function knnArrays(ix: KnnIndex): Record<string, StateArray> {
  const { sessionEnd, seqOffsets, seqItems, setOffsets, setItems, itemSessOffsets, itemSessions } = ix;
  return { sessionEnd, seqOffsets, seqItems, setOffsets, setItems, itemSessOffsets, itemSessions };
}

export function knnFromArrays(a: Record<string, StateArray>): KnnIndex {
  const sessionEnd = arr(a, "sessionEnd", Float64Array);
  return {
    sessionCount: sessionEnd.length,
    sessionEnd,
    seqOffsets: arr(a, "seqOffsets", Int32Array),
    seqItems: arr(a, "seqItems", Int32Array),
    setOffsets: arr(a, "setOffsets", Int32Array),
    setItems: arr(a, "setItems", Int32Array),
    itemSessOffsets: arr(a, "itemSessOffsets", Int32Array),
    itemSessions: arr(a, "itemSessions", Int32Array),
  };
}

/** Number of train sessions containing item i (its document frequency). */
export function sessionsWith(ix: KnnIndex, i: number): number {
  return ix.itemSessOffsets[i + 1]! - ix.itemSessOffsets[i]!;
}
