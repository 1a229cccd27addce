import { rolloutStoreContract } from "../../rollout/rollout-store.contract.js";
import { MemoryRolloutStore } from "./rollout-store.js";

rolloutStoreContract("memory", async () => ({ store: new MemoryRolloutStore() }));
