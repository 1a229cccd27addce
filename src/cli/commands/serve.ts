import type { Command } from "commander";
import type { Engine } from "../../app/engine.js";
import { withDataDir } from "../options.js";

export function register(program: Command): void {
  withDataDir(
    program
      .command("serve")
      .description("serve the API (and dashboard) on PORT with data under --data-dir")
      .option("-p, --port <port>", "port to listen on (env PORT; default 8080)")
      .option("--host <host>", "interface to bind (default 0.0.0.0)"),
  )
    .option("--log-level <level>", "fatal | error | warn | info | debug | trace | silent (default info)")
    .option("--demo", "drive simulated shop traffic through the API so the loop can be watched")
    .action(
      async (opts: {
        port?: string;
        host?: string;
        dataDir?: string;
        config?: string;
        logLevel?: string;
        demo?: boolean;
      }) => {
        const flags: Record<string, unknown> = {
          port: opts.port,
          host: opts.host,
          dataDir: opts.dataDir,
          logLevel: opts.logLevel,
        };
        const { startServer } = await import("../../server/start.js");
        const server = await startServer({ file: opts.config, env: process.env, flags });
        let stopDemo: (() => Promise<void>) | undefined;
        if (opts.demo) {
          await startDemoRollout(server.engine);
          stopDemo = await startDemoIfAvailable(server.url, server.adminKey);
        }
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

/**
 * The demo also rolls a second policy out against the default, with holds of minutes instead of a day,
 * so a newcomer watches stages, per-arm metrics and guardrails move on the dashboard. Skipped when the
 * data dir already has a rollout (a restarted demo resumes it).
 */
async function startDemoRollout(engine: Engine): Promise<void> {
  const rollouts = engine.parts.rollouts;
  if (!rollouts || (await rollouts.list()).length > 0) return;
  await engine.parts.policies.register({ id: "demo-candidate", type: "epsilon-greedy", params: { epsilon: 0.1 } });
  const plan = { stages: [10, 50, 100], minHold: "3m", minSamplePerArm: 20, opeGate: false };
  await rollouts.start({ candidate: "demo-candidate", incumbent: "default", ...plan });
  engine.parts.logger.info("demo: rolling out policy demo-candidate against default (3-minute stages)");
}

async function startDemoIfAvailable(url: string, adminKey: string): Promise<() => Promise<void>> {
  const modulePath = "../../sim/demo.js"; // a variable: the simulator is optional at build time
  const mod = (await import(modulePath).catch(() => undefined)) as
    | { startDemo?: (o: { target: string; adminKey: string }) => Promise<() => Promise<void>> }
    | undefined;
  if (!mod?.startDemo) throw new Error("the demo simulator is not available in this build");
  return mod.startDemo({ target: url, adminKey });
}
