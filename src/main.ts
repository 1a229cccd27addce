import { runCli } from "./cli/index.js";

/** `npm start [-- flags]`: the process entry; serves the API (same as `loopwise serve`). */
await runCli([process.argv[0] ?? "node", "loopwise", "serve", ...process.argv.slice(2)]);
