import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Cluster, Redis } from "ioredis";
import pg from "pg";
import { deleteByPrefix } from "../../src/storage/redis/feature-store-redis.js";
import { connectRedis } from "../../src/storage/redis/redis-connection.js";
import { entryArgs } from "./entry.js";
import { killHard, killOnExit, type ServerProcess, serverEnv } from "./server-process.js";

/** What the scale-out e2e tests need from the machine: one PostgreSQL and one Redis (CI sets both). */
export const CLUSTER_ENV = {
  postgres: process.env.LOOPWISE_TEST_POSTGRES_URL,
  redis: process.env.LOOPWISE_TEST_REDIS_URL,
};

/** Warns once when the cluster tests are skipped, naming the missing variables; returns whether they run. */
export function clusterAvailable(what: string): boolean {
  const missing = [
    CLUSTER_ENV.postgres ? undefined : "LOOPWISE_TEST_POSTGRES_URL",
    CLUSTER_ENV.redis ? undefined : "LOOPWISE_TEST_REDIS_URL",
  ].filter(Boolean);
  if (missing.length > 0) console.warn(`skipping ${what}: ${missing.join(" and ")} not set`);
  return missing.length === 0;
}

export interface Node extends ServerProcess {
  role: "api" | "worker";
  pid: number;
}

export interface TestCluster {
  apis: Node[];
  workers: Node[];
  adminKey: string;
  /** The PostgreSQL schema and the Redis key prefix every node of this cluster uses (fresh per cluster). */
  schema: string;
  prefix: string;
  redis: Redis | Cluster;
  /** A client on the cluster's schema (closed by `stop`). */
  db(): Promise<pg.Client>;
  /** Starts a new worker in the place of `dead` in `workers` (a supervisor restarting a killed worker). */
  replaceWorker(dead: Node): Promise<Node>;
  stop(): Promise<void>;
}

/** A port nobody listens on now (the OS picks it), so parallel test files never collide. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * Starts `apis` API processes and `workers` worker processes (`node --import tsx src/main.ts --role …`), each
 * with a data dir and port of its own, all on one fresh PostgreSQL schema and one fresh Redis key prefix, with
 * a short lease ttl so a failover fits in a test. `stop` kills whatever still runs, drops the schema and deletes
 * the keys.
 */
export async function startCluster(options: { apis: number; workers: number; leaseTtl: string }): Promise<TestCluster> {
  const id = randomBytes(4).toString("hex");
  const schema = `lw_cluster_${id}`;
  const prefix = `lwtest-cluster-${id}`;
  const adminKey = `lw_admin_cluster_${id}_${randomBytes(8).toString("hex")}`;
  const dirs: string[] = [];
  const all: Node[] = [];
  const env = {
    LOOPWISE_POSTGRES_URL: CLUSTER_ENV.postgres as string,
    LOOPWISE_POSTGRES_SCHEMA: schema,
    LOOPWISE_REDIS_URL: CLUSTER_ENV.redis as string,
    LOOPWISE_REDIS_PREFIX: prefix,
    LOOPWISE_LEASE_TTL: options.leaseTtl,
    // The tests read the stream's history: trim it only after they ran.
    LOOPWISE_TRIM_EVERY: "1h",
    // A policy registered on one node is learned and served everywhere within about a second.
    LOOPWISE_POLICY_REFRESH: "500ms",
    // Reward windows close quickly, so a test sees every slot learned.
    LOOPWISE_REWARD_WINDOW: "2s",
    LOOPWISE_ADMIN_KEY: adminKey,
  };
  const start = async (role: "api" | "worker"): Promise<Node> => {
    const dir = mkdtempSync(join(tmpdir(), `loopwise-cluster-${role}-`));
    dirs.push(dir);
    const node = await startNode(dir, await freePort(), { ...env, LOOPWISE_ROLE: role });
    const started: Node = { ...node, role, pid: node.child.pid as number };
    all.push(started);
    return started;
  };
  try {
    // The first node migrates the schema (under PostgreSQL's advisory lock, so the rest could race safely);
    // starting it alone keeps the others from waiting on the lock while the machine is busy.
    await start("api");
    // Settled, not all: a node still starting when another failed must be in `all` before the cleanup.
    const rest = await Promise.allSettled([
      ...Array.from({ length: options.apis - 1 }, () => start("api")),
      ...Array.from({ length: options.workers }, () => start("worker")),
    ]);
    const failed = rest.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  } catch (error) {
    await Promise.all(all.map((n) => killHard(n.child))); // no process outlives a failed start
    throw error;
  }
  const redis = connectRedis(CLUSTER_ENV.redis as string);
  const clients: pg.Client[] = [];
  const workers = all.filter((n) => n.role === "worker");
  return {
    apis: all.filter((n) => n.role === "api"),
    workers,
    adminKey,
    schema,
    prefix,
    redis,
    async db() {
      const client = new pg.Client({ connectionString: CLUSTER_ENV.postgres, options: `-c search_path=${schema}` });
      await client.connect();
      clients.push(client);
      return client;
    },
    async replaceWorker(dead) {
      const fresh = await start("worker");
      workers[workers.indexOf(dead)] = fresh;
      return fresh;
    },
    async stop() {
      await Promise.all(all.map((n) => killHard(n.child)));
      for (const client of clients) await client.end().catch(() => {});
      await deleteByPrefix(redis, prefix).catch(() => {});
      redis.disconnect();
      const admin = new pg.Client({ connectionString: CLUSTER_ENV.postgres });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

const root = fileURLToPath(new URL("../../", import.meta.url));
/** How long a node may take to answer /healthz: from the sources, tsx compiles them at first start (slow when loaded). */
const STARTUP_DEADLINE_MS = 180_000;

/**
 * `loopwise serve` as a process (compiled or from the sources: entry.ts), as server-process.ts does, with a startup
 * deadline that fits several processes compiling at once on a busy machine (a wait, not an assertion).
 */
async function startNode(dataDir: string, port: number, env: Record<string, string>): Promise<ServerProcess> {
  const args = [...entryArgs("main"), "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...serverEnv(), LOOPWISE_LOG_LEVEL: "warn", LOOPWISE_WARM_UP_RANKS: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  killOnExit(child);
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + STARTUP_DEADLINE_MS; Date.now() < deadline; ) {
    if (child.exitCode !== null) throw new Error(`${env.LOOPWISE_ROLE} node exited early (${child.exitCode}):\n${out}`);
    const healthy = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) return { url, child, adminKey: env.LOOPWISE_ADMIN_KEY as string, output: () => out };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGKILL");
  throw new Error(`${env.LOOPWISE_ROLE} node did not become healthy in ${STARTUP_DEADLINE_MS / 1000} s:\n${out}`);
}

/** A node's Prometheus text (the admin key reads it); gives up after 5 s (a SIGSTOPped node never answers). */
export async function metricsOf(node: Node, adminKey: string): Promise<string> {
  const res = await fetch(`${node.url}/metrics`, {
    headers: { authorization: `Bearer ${adminKey}` },
    signal: AbortSignal.timeout(5_000),
  });
  return res.text();
}

/** Whether a node's /metrics says it holds a duty's lease (`loopwise_duty_held{duty} 1`). */
export async function holdsDuty(node: Node, adminKey: string, duty: string): Promise<boolean> {
  const text = await metricsOf(node, adminKey).catch(() => "");
  return text.includes(`loopwise_duty_held{duty="${duty}"} 1`);
}
