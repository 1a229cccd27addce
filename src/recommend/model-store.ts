import { randomUUID } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { modelFamilies } from "./recommenders.js";
import { SessionModel, type StateArray, vocabulary } from "./session-model.js";

/**
 * Saving and loading models in the data dir: one binary file, `recommender-model.bin`, written to a temp file,
 * fsynced, then renamed over the old one, so a crash never leaves a half-written model and a reader sees
 * either the old or the new file. This is the one I/O module of recommend/ (the app passes the dir in).
 *
 * Layout: "LWRM" | u32 format version | u32 header bytes | header JSON | arrays, each 8-byte aligned, little
 * endian (the host order of every platform Node supports). The header holds name, version, trainedAt,
 * family, params, item ids and each array's kind, offset and length.
 */
export const MODEL_FILE = "recommender-model.bin";
const MAGIC = 0x4d52574c; // "LWRM" read as a little-endian u32
const FORMAT = 1;

const KINDS = { Int32Array, Float32Array, Float64Array } as const;
type Kind = keyof typeof KINDS;

interface Header {
  name: string;
  version: string;
  trainedAt: number;
  family: string;
  params: Record<string, number | string | boolean>;
  itemIds: string[];
  arrays: { key: string; kind: Kind; offset: number; length: number }[];
}

/**
 * The model as one byte array in the layout above: what `saveModel` writes and what the trainer duty publishes
 * as a `model:recommender` snapshot (duties/trainer-duty.ts), so API nodes decode what the file would hold.
 */
export function encodeModel(model: SessionModel): Uint8Array {
  const arrays: Record<string, StateArray> = { ...model.scorer.arrays(), "vocab.itemClicks": model.vocab.itemClicks };
  const header: Header = {
    name: model.name,
    version: model.version,
    trainedAt: model.trainedAt,
    family: model.scorer.family,
    params: { ...model.scorer.params },
    itemIds: [...model.vocab.itemIds],
    arrays: [],
  };
  let offset = 0;
  for (const [key, a] of Object.entries(arrays)) {
    header.arrays.push({ key, kind: a.constructor.name as Kind, offset, length: a.length });
    offset = align8(offset + a.byteLength);
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const base = align8(12 + json.length);
  const bytes = Buffer.alloc(base + offset);
  bytes.writeUInt32LE(MAGIC, 0);
  bytes.writeUInt32LE(FORMAT, 4);
  bytes.writeUInt32LE(json.length, 8);
  json.copy(bytes, 12);
  header.arrays.forEach((d, i) => {
    const a = Object.values(arrays)[i] as StateArray;
    bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), base + d.offset);
  });
  return bytes;
}

export async function saveModel(model: SessionModel, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const bytes = encodeModel(model);
  const path = join(dir, MODEL_FILE);
  const tmp = join(dir, `.${MODEL_FILE}.${randomUUID()}.tmp`);
  const fh = await open(tmp, "w");
  try {
    await fh.write(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return path;
}

/** Loads the saved model, or undefined when the dir holds none. */
export async function loadModel(dir: string): Promise<SessionModel | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, MODEL_FILE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return decodeModel(bytes, MODEL_FILE);
}

/** A model from `encodeModel`'s bytes (`what` names the source in errors: the file, or the snapshot). */
export function decodeModel(data: Uint8Array, what = "model"): SessionModel {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length < 12 || bytes.readUInt32LE(0) !== MAGIC) throw new Error(`${what} is not a Loopwise model`);
  if (bytes.readUInt32LE(4) !== FORMAT) throw new Error(`${what} has unsupported format ${bytes.readUInt32LE(4)}`);
  const headerLength = bytes.readUInt32LE(8);
  const header = JSON.parse(bytes.toString("utf8", 12, 12 + headerLength)) as Header;
  const base = align8(12 + headerLength);
  const arrays: Record<string, StateArray> = {};
  for (const d of header.arrays) {
    const Ctor = KINDS[d.kind];
    if (!Ctor) throw new Error(`${what}: unknown array kind ${d.kind}`);
    const start = base + d.offset;
    const end = start + d.length * Ctor.BYTES_PER_ELEMENT;
    if (end > bytes.length) throw new Error(`${what} is truncated`);
    // Copy into a fresh, aligned buffer (the source buffer's offset need not be a multiple of 8).
    const copy = new Uint8Array(end - start);
    copy.set(bytes.subarray(start, end));
    arrays[d.key] = new Ctor(copy.buffer);
  }
  const fam = Object.hasOwn(modelFamilies, header.family) ? modelFamilies[header.family] : undefined;
  if (!fam) throw new Error(`${what}: unknown model family ${header.family}`);
  const itemClicks = arrays["vocab.itemClicks"];
  if (!(itemClicks instanceof Int32Array)) throw new Error(`${what}: missing item clicks`);
  const vocab = vocabulary(header.itemIds, itemClicks);
  return new SessionModel({
    name: header.name,
    version: header.version,
    trainedAt: header.trainedAt,
    vocab,
    scorer: fam.restore(header.params, arrays, vocab),
  });
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
