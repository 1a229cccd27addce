#!/usr/bin/env node
// After `tsc -p tsconfig.build.json`: copies every non-TypeScript file under src/ that the code loads relative to
// its own module (the dashboard's page and scripts, worker entries written in JS, JSON fixtures) to the same
// place under dist/, so the compiled package finds them where the sources do. tsc only emits what it compiles.
import { cpSync, readdirSync, statSync } from "node:fs";
import { dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const dist = join(root, "dist");
/** Sources (compiled by tsc) and documentation are not assets. */
const SKIP = new Set([".ts", ".md"]);

function* assets(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* assets(path);
    else if (!SKIP.has(extname(name))) yield path;
  }
}

let copied = 0;
for (const file of assets(src)) {
  cpSync(file, join(dist, relative(src, file)));
  copied++;
}
process.stdout.write(`copy-assets: ${copied} files from src/ to dist/\n`);
