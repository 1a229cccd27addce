import { existsSync } from "node:fs";

/** Debian's chromium (TOOLCHAIN.md); LOOPWISE_CHROMIUM overrides. Browser tests skip, saying so, without it. */
export const chromiumPath = process.env.LOOPWISE_CHROMIUM ?? "/usr/bin/chromium";
export const haveChromium = existsSync(chromiumPath);

/** Launch flags that work here: no sandbox as root, and no background network (the machine has none). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
