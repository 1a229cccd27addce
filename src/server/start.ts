import type { FastifyInstance } from "fastify";
import { openConfiguredApiKeys } from "../app/api-keys.js";
import { type ConfigSources, loadConfig, printableConfig } from "../app/config.js";
import { createEngine, type Engine } from "../app/engine.js";
import { authNoneWarning, prepareKeys } from "./first-start.js";
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
  const write = (text: string) => process.stderr.write(text);
  const keys = config.auth === "none" ? undefined : await openConfiguredApiKeys(config);
  const adminKey = keys ? await prepareKeys(config, keys, write) : undefined;
  logger.info({ config: printableConfig(config) }, "loopwise configuration");
  const engine = await createEngine({ config: { ...config, ...(adminKey ? { adminKey } : {}) }, logger });
  engine.metrics.withProcessMetrics();
  const app = await buildServer(engine, keys ? { keys } : {});
  const url = await app.listen({ port: config.port, host: config.host });
  engine.start();
  if (config.auth === "none") {
    const warning = authNoneWarning(config.host);
    if (warning) write(warning);
    logger.warn({ host: config.host }, 'auth is "none": every route is open to anyone who can reach the server');
  }
  logger.info({ url, dataDir: config.dataDir }, "loopwise listening");
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await app.close(); // stops accepting, waits for in-flight requests
      await engine.close(); // flushes the group commit, closes stores
      await keys?.close();
    })();
    return stopping;
  };
  return { engine, app, url: url.replace("0.0.0.0", "localhost"), adminKey: engine.adminKey, stop };
}
