import { randomBytes } from "node:crypto";
import { createMemoryDecisionStream } from "../src/storage/memory/decision-stream-memory.js";
import { createRedisDecisionStream } from "../src/storage/redis/decision-stream-redis.js";
import { deleteByPrefix } from "../src/storage/redis/feature-store-redis.js";
import { connectRedis } from "../src/storage/redis/redis-connection.js";
import type { DecisionStream } from "../src/stream/decision-stream.js";
import type { StreamEntry } from "../src/stream/stream-entry.js";
import { decisionEntries } from "../src/stream/stream-fixtures.js";

/**
 * `npm run bench -- stream [--quick]`: the decision stream's append and consume throughput (issue 13), in
 * entries/s and CPU µs per entry of this process, for the in-process adapter and Redis Streams (single node
 * at LOOPWISE_TEST_REDIS_URL or redis://127.0.0.1:6390, and the Cluster when LOOPWISE_TEST_REDIS_CLUSTER is
 * set), at append/read batch sizes 1, 10 and 100. The entries are a decision's five (decision with a
 * RECORD_BYTES record, exposure, activation, reward, event) over 8 partitions. Consume is one consumer reading
 * each partition in turn and acking each batch. Figures are best of 2 passes; compare them as ratios within
 * one run (the machine is shared).
 */
const RECORD_BYTES = 2048;
const PARTITIONS = 8;
const BATCHES = [1, 10, 100];

export interface Figures {
  batch: number;
  entries: number;
  appendPerSec: number;
  consumePerSec: number;
  appendCpuUsPerEntry: number;
  consumeCpuUsPerEntry: number;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const quick = args.includes("--quick");
  const out: Record<string, unknown> = { recordBytes: RECORD_BYTES, partitions: PARTITIONS };
  out.memory = await figures("memory", quick ? 20_000 : 100_000, async () =>
    createMemoryDecisionStream({ partitions: PARTITIONS }),
  );
  for (const [label, spec] of [
    ["redis single node", process.env.LOOPWISE_TEST_REDIS_URL ?? "redis://127.0.0.1:6390"],
    ["redis cluster", process.env.LOOPWISE_TEST_REDIS_CLUSTER],
  ] as const) {
    if (!spec) {
      console.log(`${label}: skipped (LOOPWISE_TEST_REDIS_CLUSTER not set)`);
      continue;
    }
    const client = connectRedis(spec);
    const prefix = `lwbench-stream-${randomBytes(4).toString("hex")}`;
    let n = 0;
    try {
      out[label === "redis cluster" ? "redisCluster" : "redis"] = await figures(
        label,
        quick ? 2_000 : 10_000,
        async () => createRedisDecisionStream(client, { partitions: PARTITIONS, keyPrefix: `${prefix}-${n++}` }),
      );
    } finally {
      for (let i = 0; i < n; i++) await deleteByPrefix(client, `${prefix}-${i}`);
      client.disconnect();
    }
  }
  return out;
}

export async function figures(label: string, entries: number, open: () => Promise<DecisionStream>): Promise<Figures[]> {
  const out: Figures[] = [];
  for (const batch of BATCHES) {
    // Batch 1 on Redis is one round trip per entry: fewer entries keep the pass short.
    const n = batch === 1 ? Math.min(entries, 5_000) : entries;
    let best: Figures | undefined;
    for (let pass = 0; pass < 2; pass++) {
      const f = await onePass(await open(), batch, n);
      if (!best || f.appendPerSec + f.consumePerSec > best.appendPerSec + best.consumePerSec) best = f;
    }
    out.push(best!);
    console.log(
      `${label} batch ${batch}: append ${Math.round(best!.appendPerSec)} entries/s (${best!.appendCpuUsPerEntry.toFixed(1)} CPU µs/entry), ` +
        `consume ${Math.round(best!.consumePerSec)} entries/s (${best!.consumeCpuUsPerEntry.toFixed(1)} CPU µs/entry), ${n} entries`,
    );
  }
  return out;
}

async function onePass(stream: DecisionStream, batch: number, n: number): Promise<Figures> {
  const entries: StreamEntry[] = [];
  for (let d = 0; entries.length < n; d++) entries.push(...decisionEntries(`bench-${d}`, Date.now(), RECORD_BYTES));
  entries.length = n;
  await stream.ensureGroup("bench");

  const append = await timed(async () => {
    for (let i = 0; i < n; i += batch) await stream.append(entries.slice(i, i + batch));
  });
  let consumed = 0;
  const consume = await timed(async () => {
    while (consumed < n) {
      for (let p = 0; p < stream.partitions; p++) {
        const got = await stream.read("bench", "c", p, { count: batch });
        if (got.length === 0) continue;
        await stream.ack(
          "bench",
          p,
          got.map((e) => e.id),
        );
        consumed += got.length;
      }
    }
  });
  await stream.close();
  return {
    batch,
    entries: n,
    appendPerSec: n / append.seconds,
    consumePerSec: n / consume.seconds,
    appendCpuUsPerEntry: append.cpuUs / n,
    consumeCpuUsPerEntry: consume.cpuUs / n,
  };
}

async function timed(work: () => Promise<void>): Promise<{ seconds: number; cpuUs: number }> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await work();
  const used = process.cpuUsage(cpu);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpuUs: used.user + used.system };
}
