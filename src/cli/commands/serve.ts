import type { Command } from "commander";
import type { Engine } from "../../app/engine.js";
import { withDataDir } from "../options.js";

export function register(program: Command): void {
  withDataDir(
    program
      .command("serve")
      .description("serve the API (and dashboard) on PORT with data under --data-dir")
      .option("-p, --port <port>", "port to listen on (env PORT; default 8080)")
      .option("--host <host>", "interface to bind (default 0.0.0.0)")
      .option(
        "--role <role>",
        "all (default: one process) | api (serves, appends to the stream) | worker (runs the duties); env LOOPWISE_ROLE",
      ),
  )
    .option("--log-level <level>", "fatal | error | warn | info | debug | trace | silent (default info)")
    .option("--demo", "drive simulated shop traffic through the API so the loop can be watched")
    .action(
      async (opts: {
        port?: string;
        host?: string;
        role?: string;
        dataDir?: string;
        config?: string;
        logLevel?: string;
        demo?: boolean;
      }) => {
        const flags: Record<string, unknown> = {
          port: opts.port,
          host: opts.host,
          role: opts.role,
          dataDir: opts.dataDir,
          logLevel: opts.logLevel,
          // A 1-minute reward window in the demo, so joined rewards and learning show soon (sim/demo.ts).
          ...(opts.demo ? { rewards: { window: "1m" } } : {}),
        };
        const { startServer } = await import("../../server/start.js");
        const server = await startServer({ file: opts.config, env: process.env, flags });
        let stopDemo: (() => Promise<void>) | undefined;
        if (opts.demo) stopDemo = await startDemoIfAvailable(server);
        const shutdown = async (signal: string) => {
          server.engine.parts.logger.info({ signal }, "shutting down");
          await stopDemo?.();
          await server.stop();
          process.exit(0);
        };
        process.once("SIGINT", () => void shutdown("SIGINT"));
        process.once("SIGTERM", () => void shutdown("SIGTERM"));
      },
    );
}

/** The simulator is loaded only for --demo (a variable path: it is optional in a trimmed build). */
async function startDemoIfAvailable(server: {
  engine: Engine;
  url: string;
  adminKey: string;
}): Promise<() => Promise<void>> {
  const modulePath = "../../sim/demo.js";
  const mod = (await import(modulePath).catch(() => undefined)) as
    | { startDemoOnServer?: (s: { engine: Engine; url: string; adminKey: string }) => Promise<() => Promise<void>> }
    | undefined;
  if (!mod?.startDemoOnServer) throw new Error("the demo simulator is not available in this build");
  return mod.startDemoOnServer(server);
}
