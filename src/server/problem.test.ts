import { describe, expect, it } from "vitest";
import { toProblem } from "./problem.js";

const sqliteError = (code: string) => Object.assign(new Error("database is locked"), { code });

describe("problem documents for storage failures", () => {
  it("answers a log that cannot take writes (SQLite locked, disk full, I/O) with 503, anything else unknown with 500", () => {
    for (const code of [
      "SQLITE_BUSY",
      "SQLITE_BUSY_SNAPSHOT",
      "SQLITE_FULL",
      "SQLITE_IOERR_WRITE",
      "SQLITE_READONLY",
      "ENOSPC",
      "EIO",
    ]) {
      const body = toProblem(sqliteError(code));
      expect(body.status, code).toBe(503);
      expect(body.code).toBe("STORAGE_UNAVAILABLE");
      expect(body.detail).toContain(code);
    }
    for (const code of ["SQLITE_CONSTRAINT_UNIQUE", "SQLITE_BUSYNESS", "EBUSY", "ENOENT"]) {
      expect(toProblem(sqliteError(code)).status, code).toBe(500);
    }
  });
});
