import { fencedRolloutStoreContract } from "../../rollout/fenced-rollout-store.contract.js";
import { rolloutStoreContract } from "../../rollout/rollout-store.contract.js";
import { MemoryRolloutStore } from "./rollout-store.js";

rolloutStoreContract("memory", async () => ({ store: new MemoryRolloutStore() }));
fencedRolloutStoreContract("memory", async () => new MemoryRolloutStore());
