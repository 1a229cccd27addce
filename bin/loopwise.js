#!/usr/bin/env node
// The `loopwise` command: runs the TypeScript CLI through tsx (Node 20 has no type stripping).
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/cli/index.ts");
await runCli(process.argv);
