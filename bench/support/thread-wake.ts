import { Worker } from "node:worker_threads";

/**
 * What one cross-thread wake costs on this machine: the floor under any design that hands each request to another
 * thread and wakes it (the log writer's doorbell, src/storage/sqlite/log-writer-channel.ts `ring`). The main thread
 * stays busy for `--gap-us` between wakes (a server between requests), so the worker is asleep in `Atomics.wait`
 * every time; printed per wake: the waker's time inside `Atomics.notify` and how long until the worker ran, and, for
 * reference, a notify that finds no sleeper.
 *   node --import tsx bench/support/thread-wake.ts [--wakes=2000] [--gap-us=1000]
 * On the 2-vCPU reference VM (stop 30, quiet): notify 19 µs p50 and 45 µs p99 on the waker's side; the CPU profile
 * of the HTTP rank charged `ring` 40-87 µs a request under load. A worker that polled with a timed wait instead
 * (no notify) made the main thread slower, not faster (its wakes took the main thread's core).
 */
const flag = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt);
const wakes = flag("wakes", 2000);
const gapUs = flag("gap-us", 1000);

const control = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
/** [when notify was called, when the worker ran] (performance.timeOrigin + now, ms), per wake. */
const times = new Float64Array(new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT));
const DOORBELL = 0;
const RAN = 1;
const STOP = 2;
const worker = new Worker(
  `const { workerData: { control, times } } = require("node:worker_threads");
  for (;;) {
    Atomics.wait(control, 0, Atomics.load(control, 0));
    times[1] = performance.timeOrigin + performance.now();
    Atomics.add(control, 1, 1);
    if (Atomics.load(control, 2) === 1) break;
  }`,
  { eval: true, workerData: { control, times } },
);
await new Promise((resolve) => setTimeout(resolve, 200));

const notifyUs: number[] = [];
const wakeUs: number[] = [];
for (let i = 0; i < wakes; i++) {
  const busyUntil = performance.now() + gapUs / 1000;
  while (performance.now() < busyUntil) {} // the worker falls asleep meanwhile
  const ran = Atomics.load(control, RAN);
  const t0 = performance.now();
  times[0] = performance.timeOrigin + t0;
  Atomics.add(control, DOORBELL, 1);
  Atomics.notify(control, DOORBELL);
  notifyUs.push((performance.now() - t0) * 1000);
  while (Atomics.load(control, RAN) === ran) {} // wait for it, so the next wake finds it asleep again
  wakeUs.push(((times[1] as number) - (times[0] as number)) * 1000);
}
const noSleeper = new Int32Array(new SharedArrayBuffer(4));
const t0 = performance.now();
for (let i = 0; i < wakes; i++) Atomics.notify(noSleeper, 0);
const idleNotifyUs = ((performance.now() - t0) * 1000) / wakes;
Atomics.store(control, STOP, 1);
Atomics.add(control, DOORBELL, 1);
Atomics.notify(control, DOORBELL);
await worker.terminate();

const quantiles = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  const at = (q: number) => (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number).toFixed(1);
  return `p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} max ${at(1)}`;
};
console.log(`${wakes} wakes of a sleeping worker, ${gapUs} µs apart:`);
console.log(`  waker's time in Atomics.notify (µs): ${quantiles(notifyUs)}`);
console.log(`  until the worker ran (µs):           ${quantiles(wakeUs)}`);
console.log(`  Atomics.notify with no sleeper: ${idleNotifyUs.toFixed(2)} µs`);
