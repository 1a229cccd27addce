import { pino } from "pino";
import { createEngine } from "../../src/app/engine.js";
import { ManualClock } from "../../src/core/clock.js";
import { Xoshiro128 } from "../../src/core/rng.js";
import type { DecisionRecord } from "../../src/decisions/decision-record.js";
import { encodeRecord } from "../../src/storage/sqlite/record-codec.js";
import { storedRecord } from "../../src/storage/sqlite/record-transit.js";
import { inProcessRankBody, loadInProcessCatalog } from "./rank-requests.js";

/**
 * The decision record's encoding on rank's thread, this tree against another checkout's, in one process on the
 * same records (captured from `bench rank`'s requests through an in-memory engine, the default policy), in
 * alternating rounds: this tree's transit encode (what the SQLite store's append runs on the event loop), the
 * other tree's `encodeRecord`, and this tree's coding of the transit record on the writer's thread. CPU µs per
 * record, medians of the rounds. Also checks that the stored bytes are the other tree's, record for record.
 *   node --import tsx bench/support/ab-encode.ts /tmp/base-tree [--rounds=9]
 */
type Encode = (record: DecisionRecord) => Uint8Array;

async function capturedRecords(n: number): Promise<DecisionRecord[]> {
  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
  const rng = new Xoshiro128(7);
  const engine = await createEngine({ dataDir: ":memory:", clock, logger: pino({ level: "silent" }) });
  await loadInProcessCatalog(engine, rng);
  const records: DecisionRecord[] = [];
  engine.parts.emitter.on("decision", (r) => records.push(r));
  for (let i = 0; i < n; i++) {
    const res = await engine.rank(inProcessRankBody(rng, i));
    clock.advance(20);
    if (rng.next() < 0.1) await engine.reward(res.decisionId, { value: 1, itemId: res.ranking[0]!.id });
  }
  await engine.close();
  return records.slice(100); // past the first pools
}

function cpuPerCall(records: readonly DecisionRecord[], f: Encode): number {
  const t0 = process.cpuUsage();
  for (let j = 0; j < 3; j++) for (const r of records) f(r);
  const c = process.cpuUsage(t0);
  return (c.user + c.system) / (3 * records.length);
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const other = process.argv[2];
  if (!other) throw new Error("usage: ab-encode.ts OTHER_TREE [--rounds=N]");
  const rounds = Number(process.argv.find((a) => a.startsWith("--rounds="))?.slice(9) ?? 9);
  const theirs = ((await import(`${other}/src/storage/sqlite/record-codec.ts`)) as { encodeRecord: Encode })
    .encodeRecord;
  const records = await capturedRecords(700);
  const transits = records.map((r) => encodeRecord(r, true));
  const differ = records.filter((r, i) => !Buffer.from(storedRecord(transits[i]!)).equals(Buffer.from(theirs(r))));
  let t = 0;
  const cases: [string, Encode][] = [
    ["this tree, transit encode (event loop)", (r) => encodeRecord(r, true)],
    [`${other}, encodeRecord (event loop)`, theirs],
    ["this tree, storedRecord (writer thread)", () => storedRecord(transits[t++ % transits.length]!)],
  ];
  const times: number[][] = cases.map(() => []);
  for (let round = -1; round < rounds; round++)
    cases.forEach(([, f], i) => {
      const us = cpuPerCall(records, f);
      if (round >= 0) times[i]!.push(us);
    });
  console.log(`${records.length} records; stored bytes differing from ${other}'s: ${differ.length}`);
  cases.forEach(([name], i) => {
    console.log(`  ${name}: ${median(times[i]!).toFixed(1)} µs CPU per record`);
  });
  console.log(`  ratio event loop this/other: ${(median(times[0]!) / median(times[1]!)).toFixed(3)}`);
}

await main();
