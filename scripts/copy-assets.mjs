#!/usr/bin/env node
// After `tsc -p tsconfig.build.json`: copies every non-TypeScript file under src/ that the code loads relative to
// its own module (the dashboard's page, scripts and stylesheet, worker entries written in JS, JSON fixtures) to
// the same place under dist/, so the compiled package finds them where the sources do. tsc only emits what it
// compiles. The dashboard's chart library (uPlot) is copied from node_modules to dist/dashboard/vendor/: the
// server serves it from its own origin (no CDN; server/routes/dashboard.ts).
import { cpSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const dist = join(root, "dist");
/** Sources (compiled by tsc) and documentation are not assets. */
const SKIP = new Set([".ts", ".md"]);
/** Files of installed packages the dashboard serves, as package paths. */
const VENDOR = ["uplot/dist/uPlot.esm.js", "uplot/dist/uPlot.min.css"];

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
const require = createRequire(import.meta.url);
const vendor = join(dist, "dashboard", "vendor");
mkdirSync(vendor, { recursive: true });
for (const file of VENDOR) {
  cpSync(require.resolve(file), join(vendor, basename(file)));
  copied++;
}
process.stdout.write(`copy-assets: ${copied} files to dist/\n`);
