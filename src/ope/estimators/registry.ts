import { LoopwiseError } from "../../core/errors.js";
import { ownValue } from "../../core/own.js";
import type { Estimator } from "../estimator.js";
import { dm } from "./dm.js";
import { dr } from "./dr.js";
import { ips } from "./ips.js";
import { replay } from "./replay.js";
import { sndr } from "./sndr.js";
import { snips } from "./snips.js";
import { switchDr } from "./switch-dr.js";

/** Every estimator, by registry name. The contract test runs each member. */
export const ESTIMATORS: Readonly<Record<string, Estimator>> = Object.freeze({
  ips,
  snips,
  dm,
  dr,
  sndr,
  "switch-dr": switchDr,
  replay,
});

export const DEFAULT_ESTIMATORS = ["ips", "snips", "dm", "dr", "sndr", "switch-dr"] as const;

export function getEstimator(name: string): Estimator {
  const found = ownValue(ESTIMATORS, name);
  if (!found) {
    throw new LoopwiseError(
      "VALIDATION_FAILED",
      `unknown estimator "${name}"; available: ${Object.keys(ESTIMATORS).join(", ")}`,
      [{ path: "estimators", message: `unknown estimator "${name}"` }],
    );
  }
  return found;
}
