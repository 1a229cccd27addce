import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster, Redis } from "ioredis";
import pg from "pg";
import { deleteByPrefix } from "../../src/storage/redis/feature-store-redis.js";
import { connectRedis } from "../../src/storage/redis/redis-connection.js";
import { killHard, type ServerProcess, startServerProcess } from "./server-process.js";

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
  const env = {
    LOOPWISE_POSTGRES_URL: CLUSTER_ENV.postgres as string,
    LOOPWISE_POSTGRES_SCHEMA: schema,
    LOOPWISE_REDIS_URL: CLUSTER_ENV.redis as string,
    LOOPWISE_REDIS_PREFIX: prefix,
    LOOPWISE_LEASE_TTL: options.leaseTtl,
    LOOPWISE_ADMIN_KEY: adminKey,
  };
  const start = async (role: "api" | "worker"): Promise<Node> => {
    const dir = mkdtempSync(join(tmpdir(), `loopwise-cluster-${role}-`));
    dirs.push(dir);
    const node = await startServerProcess(dir, await freePort(), { ...env, LOOPWISE_ROLE: role });
    return { ...node, role, pid: node.child.pid as number };
  };
  // The first node migrates the schema (under PostgreSQL's advisory lock, so the rest could race safely);
  // starting it alone keeps the others from waiting on the lock while the machine is busy.
  const first = await start("api");
  const rest = await Promise.all([
    ...Array.from({ length: options.apis - 1 }, () => start("api")),
    ...Array.from({ length: options.workers }, () => start("worker")),
  ]);
  const all = [first, ...rest];
  const redis = connectRedis(CLUSTER_ENV.redis as string);
  const clients: pg.Client[] = [];
  return {
    apis: all.filter((n) => n.role === "api"),
    workers: all.filter((n) => n.role === "worker"),
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

/** A node's Prometheus text (the admin key reads it). */
export async function metricsOf(node: Node, adminKey: string): Promise<string> {
  const res = await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } });
  return res.text();
}

/** Whether a node's /metrics says it holds a duty's lease (`loopwise_duty_held{duty} 1`). */
export async function holdsDuty(node: Node, adminKey: string, duty: string): Promise<boolean> {
  const text = await metricsOf(node, adminKey).catch(() => "");
  return text.includes(`loopwise_duty_held{duty="${duty}"} 1`);
}
