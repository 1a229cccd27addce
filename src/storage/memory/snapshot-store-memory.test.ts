import { snapshotStoreContract } from "../../stream/snapshot-store.contract.js";
import { createMemorySnapshotStore } from "./snapshot-store-memory.js";

snapshotStoreContract("memory", async () => createMemorySnapshotStore({ keepFull: 2 }));
