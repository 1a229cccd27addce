import { eventLogContract } from "../events/event-log.contract.js";
import { MemoryEventLog } from "./memory/event-log-memory.js";
import { SqliteStore } from "./sqlite/database.js";
import { SqliteEventLog } from "./sqlite/event-log-sqlite.js";

eventLogContract("memory", async () => new MemoryEventLog());
eventLogContract("sqlite", async () => new SqliteEventLog(new SqliteStore(":memory:")));
