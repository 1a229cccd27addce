/**
 * `import … from "loopwise"`: embed the engine in your own process. `startServer` is what `loopwise serve`
 * runs; `createEngine` + `buildServer` compose the same pieces yourself (e.g. behind your own listener).
 * The HTTP client for a running server is `loopwise/client`.
 */

export { type ConfigInput, type ConfigSources, type LoopwiseConfig, loadConfig } from "./app/config.js";
export { createEngine, Engine, type EngineOptions } from "./app/engine.js";
export type { Candidate, FeatureMap, FeatureValue, Item, UserEvent } from "./core/types.js";
export type { ActivateResponse, IngestResponse, RankedItem, RankResponse, RewardResponse } from "./server/api-types.js";
export { buildServer, type ServerOptions } from "./server/server.js";
export { type RunningServer, startServer } from "./server/start.js";
