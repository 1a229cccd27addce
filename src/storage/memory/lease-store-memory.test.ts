import { ManualClock } from "../../core/clock.js";
import { leaseStoreContract } from "../../stream/lease-store.contract.js";
import { createMemoryLeaseStore } from "./lease-store-memory.js";

leaseStoreContract("memory", async () => {
  const clock = new ManualClock();
  return { leases: createMemoryLeaseStore(clock), advance: async (ms) => void clock.advance(ms) };
});
