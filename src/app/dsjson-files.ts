import { createReadStream, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { LoopwiseError } from "../core/errors.js";

/**
 * The files of a Personalizer export as given: a file, or every `.json`/`.dsjson` file under a folder, in path
 * order (the export's dated folders then read in time order).
 */
export function dsjsonFiles(path: string): string[] {
  if (!existsSync(path)) throw new LoopwiseError("NOT_FOUND", `no file or folder ${path}`);
  if (!statSync(path).isDirectory()) return [path];
  const files = readdirSync(path, { recursive: true, encoding: "utf8" })
    .filter((name) => /\.(json|dsjson)$/i.test(name))
    .map((name) => join(path, name))
    .filter((file) => statSync(file).isFile())
    .sort();
  if (files.length === 0) throw new LoopwiseError("NOT_FOUND", `no .json or .dsjson file under ${path}`);
  return files;
}

/** A file's lines as they are read (an export's files run to gigabytes, more than one string can hold). */
export function fileLines(file: string): AsyncIterable<string> & { close(): void } {
  return createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
}
