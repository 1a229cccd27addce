import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { rngFor } from "../core/rng.js";
import { MemoryPolicyStore } from "../storage/memory/policy-store.js";
import { DEFAULT_POLICY_ALIAS, PolicyRegistry } from "./policy-registry.js";

const input = { context: { device: "mobile" }, candidates: [{ id: "a" }, { id: "b" }, { id: "c" }] };

describe("PolicyRegistry", () => {
  it("persists learned state on close and restores it on open", async () => {
    const store = new MemoryPolicyStore();
    const clock = new ManualClock(1000);
    const first = await PolicyRegistry.open({ clock, store });
    await first.register({ id: "ts", type: "thompson", features: { dims: 512 } });
    const policy = first.find("ts")!;
    for (let t = 0; t < 30; t++) {
      const [s] = policy.rank(input, 1, rngFor("explore", `d${t}`));
      policy.update({
        input,
        index: s!.index,
        position: 0,
        reward: s!.index === 2 ? 1 : 0,
        propensity: s!.propensity,
        placedBefore: [],
      });
    }
    await first.close();
    const second = await PolicyRegistry.open({ clock, store });
    const restored = second.find("ts")!;
    expect(restored.updates).toBe(30);
    expect(Array.from(restored.distribution(input))).toEqual(Array.from(policy.distribution(input)));
    expect(second.defaultPolicyId).toBe("ts");
    expect(second.get(DEFAULT_POLICY_ALIAS)).toBe(restored);
  });

  it("registers the product default once on a fresh install", async () => {
    const store = new MemoryPolicyStore();
    const registry = await PolicyRegistry.open({ clock: new ManualClock(0), store });
    const policy = await registry.ensureDefault();
    expect(policy.id).toBe(DEFAULT_POLICY_ALIAS);
    expect(policy.type).toBe("thompson");
    expect(await registry.ensureDefault()).toBe(policy);
    expect(await store.getDefault()).toBe(DEFAULT_POLICY_ALIAS);
    const reopened = await PolicyRegistry.open({ clock: new ManualClock(0), store });
    expect(reopened.get(DEFAULT_POLICY_ALIAS)?.type).toBe("thompson");
  });

  it("keeps an earlier version's default (spec and learning) and says that the product default differs", async () => {
    const store = new MemoryPolicyStore();
    const earlier = { type: "thompson", params: { model: "hybrid" }, features: { numeric: "symlog" } };
    const old = await PolicyRegistry.open({ clock: new ManualClock(0), store });
    await old.ensureDefault(earlier);
    expect(old.outdatedDefault(earlier)).toBeUndefined();
    await old.close();
    const upgraded = await PolicyRegistry.open({ clock: new ManualClock(0), store });
    expect((await upgraded.ensureDefault()).spec).toEqual(earlier);
    expect(upgraded.outdatedDefault()).toEqual(earlier);
    const fresh = await PolicyRegistry.open({ clock: new ManualClock(0), store: new MemoryPolicyStore() });
    await fresh.ensureDefault();
    expect(fresh.outdatedDefault()).toBeUndefined();
  });

  it("saves on the interval only what changed", async () => {
    const store = new MemoryPolicyStore();
    let tick: (() => void) | undefined;
    const timers = {
      setInterval: ((fn: () => void) => {
        tick = fn;
        return 1 as unknown as ReturnType<typeof setInterval>;
      }) as unknown as typeof setInterval,
      clearInterval: (() => {}) as typeof clearInterval,
    };
    const registry = await PolicyRegistry.open({ clock: new ManualClock(0), store, persistEveryMs: 1000, timers });
    await registry.register({ id: "eg", type: "epsilon-greedy", features: { dims: 256 } });
    expect(await registry.persist()).toBe(0);
    registry.find("eg")!.update({ input, index: 0, position: 0, reward: 1, propensity: 1, placedBefore: [] });
    tick?.();
    await new Promise((r) => setTimeout(r, 10));
    expect((await store.load("eg"))?.snapshot.progress.updates).toBe(1);
    expect(await registry.persist()).toBe(0);
    await registry.close();
  });

  it("saves a policy as it was when the save began, though it learns while the arms are copied", async () => {
    const store = new MemoryPolicyStore();
    const registry = await PolicyRegistry.open({ clock: new ManualClock(0), store });
    const spec = { type: "thompson", params: { model: "hybrid", armDims: 4, maxArms: 500 }, features: { dims: 256 } };
    const { policy } = await registry.register({ id: "arms", ...spec });
    const teach = (item: number, t: number) => {
      const one = { context: { device: "mobile" }, candidates: [{ id: `item-${item}`, features: { price: t } }] };
      policy.update({ input: one, index: 0, position: 0, reward: t % 2, propensity: 0.5, placedBefore: [] });
    };
    for (let item = 0; item < 200; item++) teach(item, item); // 200 arms: several turns of copying
    const atStart = JSON.stringify(policy.snapshot());
    const saving = registry.persist();
    let learned = 0;
    const learnEachTurn = () => {
      teach(learned % 200, 1000 + learned); // arms copied already and arms still waiting
      learned++;
      if (learned < 50) setImmediate(learnEachTurn);
    };
    setImmediate(learnEachTurn);
    await saving;
    expect(learned).toBeGreaterThan(1); // the policy did learn while the save was copying
    expect(JSON.stringify((await store.load("arms"))?.snapshot)).toBe(atStart);
    expect(JSON.stringify(policy.snapshot())).not.toBe(atStart);
  });

  it("ends a save's turn once its time budget is spent, before ARMS_PER_TURN arms", async () => {
    const store = new MemoryPolicyStore();
    let ms = 0;
    // A turn clock that moves 1 ms per reading: a turn reads it at its start and after every 4 arms, so it
    // yields after 8 arms (its 2 ms budget), where ARMS_PER_TURN alone would copy 32.
    const registry = await PolicyRegistry.open({ clock: new ManualClock(0), store, turnClock: () => ms++ });
    const spec = { type: "thompson", params: { model: "hybrid", armDims: 4, maxArms: 500 }, features: { dims: 256 } };
    const { policy } = await registry.register({ id: "arms", ...spec });
    for (let item = 0; item < 64; item++) {
      const one = { context: { device: "mobile" }, candidates: [{ id: `item-${item}`, features: { price: item } }] };
      policy.update({ input: one, index: 0, position: 0, reward: item % 2, propensity: 0.5, placedBefore: [] });
    }
    const atStart = JSON.stringify(policy.snapshot());
    let turns = 0;
    let saving = true;
    const count = () => {
      turns++;
      if (saving) setImmediate(count);
    };
    setImmediate(count);
    await registry.persist();
    saving = false;
    expect(turns).toBeGreaterThanOrEqual(64 / 8 - 1); // 64 arms, 8 a turn (32 a turn would take 2)
    expect(JSON.stringify((await store.load("arms"))?.snapshot)).toBe(atStart);
  });
  it("a close while a periodic save is still copying stores the newer state last (saves land in order)", async () => {
    const store = new MemoryPolicyStore();
    let ms = 0;
    let slow = true;
    // The periodic save's first turn ends after 4 arms (each reading moves 10 ms); the close's copy then takes
    // all 10 arms in one turn, as on a machine whose load changed between the two.
    const turnClock = () => {
      if (slow) ms += 10;
      return ms;
    };
    const registry = await PolicyRegistry.open({ clock: new ManualClock(0), store, turnClock });
    const spec = { type: "thompson", params: { model: "hybrid", armDims: 4, maxArms: 500 }, features: { dims: 256 } };
    const { policy } = await registry.register({ id: "arms", ...spec });
    const teach = (item: number) => {
      const one = { context: { device: "mobile" }, candidates: [{ id: `item-${item}`, features: { price: item } }] };
      policy.update({ input: one, index: 0, position: 0, reward: item % 2, propensity: 0.5, placedBefore: [] });
    };
    for (let item = 0; item < 10; item++) teach(item);
    const periodic = registry.persist(); // the interval's save: yields after its first turn
    teach(3); // learns while that save copies
    slow = false;
    await registry.close();
    await periodic;
    expect(policy.updates).toBe(11);
    expect((await store.load("arms"))?.snapshot.progress.updates).toBe(11);
  });
});
