import type { FastifyInstance } from "fastify";
import { openConfiguredApiKeys } from "../app/api-keys.js";
import { type ConfigSources, checkRole, loadConfig, printableConfig } from "../app/config.js";
import { createEngine, type Engine, runsWorkerDuties } from "../app/engine.js";
import { startDutyRunner } from "../app/worker-role.js";
import type { DutyRunner } from "../duties/duty-runner.js";
import { authNoneWarning, prepareKeys } from "./first-start.js";
import { startHeapBudget } from "./heap-budget.js";
import { createLogger } from "./logger.js";
import { disableMemoryReducer } from "./memory-reducer.js";
import { buildServer } from "./server.js";
import { warmUp } from "./warm-up.js";
import { buildWorkerServer } from "./worker-server.js";

export interface RunningServer {
  engine: Engine;
  app: FastifyInstance;
  url: string;
  adminKey: string;
  /** The duties under leases (role worker, or all with Redis); undefined in the embedded mode and on API nodes. */
  duties?: DutyRunner;
  stop(): Promise<void>;
}

/**
 * Loads the config, opens the engine (rebuilding state before traffic), and listens. By role (issue 13): `all`
 * serves the API and runs the loop in process (with Redis: competes for the duties instead); `api` serves the
 * API only; `worker` runs the duties and serves /healthz, /readyz and /metrics.
 */
export async function startServer(sources: ConfigSources): Promise<RunningServer> {
  const config = loadConfig(sources);
  checkRole(config); // api and worker refuse to start without the Redis and PostgreSQL they share
  const logger = createLogger(config.logLevel);
  const heapBudget = startHeapBudget(config.memory.budget, logger); // before the engine fills the heap
  disableMemoryReducer(); // before the engine starts its threads (memory-reducer.ts)
  const write = (text: string) => process.stderr.write(text);
  const keys = config.auth === "none" ? undefined : await openConfiguredApiKeys(config);
  const adminKey = keys ? await prepareKeys(config, keys, write) : undefined;
  logger.info({ config: printableConfig(config) }, "loopwise configuration");
  const engine = await createEngine({ config: { ...config, ...(adminKey ? { adminKey } : {}) }, logger });
  engine.metrics.withProcessMetrics();
  // API nodes serve ranks: their code is compiled on throwaway state before the first request (warm-up.ts).
  if (config.role !== "worker") logger.info(await warmUp(config, config.warmUpRanks), "warm-up done");
  let duties: DutyRunner | undefined;
  const app =
    config.role === "worker"
      ? await buildWorkerServer(engine, () => duties, keys)
      : await buildServer(engine, keys ? { keys } : {});
  const url = await app.listen({ port: config.port, host: config.host });
  engine.start(); // the embedded mode's timer only (Engine.start)
  if (runsWorkerDuties(config)) duties = await startDutyRunner(engine);
  if (config.auth === "none") {
    const warning = authNoneWarning(config.host);
    if (warning) write(warning);
    logger.warn({ host: config.host }, 'auth is "none": every route is open to anyone who can reach the server');
  }
  logger.info({ url, role: config.role, dataDir: config.dataDir }, "loopwise listening");
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await app.close(); // stops accepting, waits for in-flight requests
      await duties?.close(); // stops the duties and releases their leases for a standby
      await engine.close(); // flushes the group commit, closes stores
      await keys?.close();
      heapBudget.stop();
    })();
    return stopping;
  };
  return { engine, app, url: url.replace("0.0.0.0", "localhost"), adminKey: engine.adminKey, duties, stop };
}
