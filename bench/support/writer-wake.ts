import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/storage/sqlite/database.js";

/** Writer thread CPU per awaited op that writes nothing (an empty items op): the fixed cost of one round trip. */
const dir = mkdtempSync(join(tmpdir(), "loopwise-wake-"));
const store = new SqliteStore(join(dir, "loopwise.db"));
await store.ready();
const N = Number(process.argv[2] ?? 5000);
for (let i = 0; i < 500; i++) await store.writer.write({ kind: "items", items: [] });
const w0 = store.writer.stats().threadCpuSeconds ?? 0;
const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) await store.writer.write({ kind: "items", items: [] });
const c = process.cpuUsage(c0);
const w = ((store.writer.stats().threadCpuSeconds ?? 0) - w0) * 1e6;
console.log(`writer thread ${(w / N).toFixed(1)} µs per empty op; process ${((c.user + c.system) / N).toFixed(1)} µs`);
await store.close();
rmSync(dir, { recursive: true, force: true });
