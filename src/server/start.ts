import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { pino } from "pino";
import { type ConfigSources, type LoopwiseConfig, loadConfig, printableConfig } from "../app/config.js";
import { createEngine, type Engine } from "../app/engine.js";
import { createLogger } from "./logger.js";
import { buildServer } from "./server.js";

export interface RunningServer {
  engine: Engine;
  app: FastifyInstance;
  url: string;
  adminKey: string;
  stop(): Promise<void>;
}

/** Loads the config, opens the engine (rebuilding state before traffic), and listens. */
export async function startServer(sources: ConfigSources): Promise<RunningServer> {
  const config = loadConfig(sources);
  const logger = createLogger(config.logLevel);
  const adminKey = resolveAdminKey(config, logger);
  logger.info({ config: printableConfig(config) }, "loopwise configuration");
  const engine = await createEngine({ config: { ...config, adminKey }, logger });
  engine.metrics.withProcessMetrics();
  const app = await buildServer(engine);
  const url = await app.listen({ port: config.port, host: config.host });
  engine.start();
  logger.info({ url, dataDir: config.dataDir }, "loopwise listening");
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await app.close(); // stops accepting, waits for in-flight requests
      await engine.close(); // flushes the group commit, closes stores
    })();
    return stopping;
  };
  return { engine, app, url: url.replace("0.0.0.0", "localhost"), adminKey, stop };
}

/**
 * The admin key: configured, else read from `<dataDir>/admin-key`, else generated there and printed
 * once, so a fresh install is protected without a setup step and restarts keep the same key.
 */
function resolveAdminKey(config: LoopwiseConfig, logger: pino.Logger): string {
  if (config.adminKey) return config.adminKey;
  const path = join(config.dataDir, "admin-key");
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  mkdirSync(config.dataDir, { recursive: true });
  const key = `lw_admin_${randomBytes(18).toString("base64url")}`;
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  logger.warn({ adminKeyFile: path }, `generated admin API key (shown once): ${key}`);
  return key;
}
