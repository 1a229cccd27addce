#!/usr/bin/env node
// The `loopwise` command: runs the compiled CLI in dist/ (built by `npm run build`, which `npm install` runs).
// In a checkout, `npm run cli -- ARGS` runs the TypeScript sources through tsx instead.
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/index.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    "loopwise: the compiled CLI is missing (dist/cli/index.js).\n" +
      "  Run `npm run build` in the package directory (`npm install` does it too),\n" +
      "  or run the sources directly with `npm run cli -- ARGS`.\n",
  );
  process.exit(1);
}
const { runCli } = await import(entry.href);
await runCli(process.argv);
