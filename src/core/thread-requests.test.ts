import { describe, expect, it } from "vitest";
import { ThreadRequests } from "./thread-requests.js";

const names = { work: "echoing", thread: "echo thread" };

describe("ThreadRequests", () => {
  it("answers each request by its id, and a thread's error answer rejects only that request", async () => {
    const thread = new ThreadRequests(import.meta.url, "./test-thread-worker", names);
    try {
      const a = thread.open<number>();
      const b = thread.open<number>();
      const c = thread.open<number>();
      b.worker.postMessage({ id: b.id, kind: "echo", value: 2 });
      c.worker.postMessage({ id: c.id, kind: "fail" });
      a.worker.postMessage({ id: a.id, kind: "echo", value: 1 });
      await expect(c.answer).rejects.toThrow("echoing failed: as asked");
      expect(await Promise.all([a.answer, b.answer])).toEqual([1, 2]);
      expect(thread.waiting(a.id)).toBe(false);
    } finally {
      await thread.close();
    }
  });

  it("rejects every waiting request when its thread exits, and the next request starts a new thread", async () => {
    const thread = new ThreadRequests(import.meta.url, "./test-thread-worker", names);
    try {
      const waiting = thread.open<number>();
      const killer = thread.open<number>();
      killer.worker.postMessage({ id: killer.id, kind: "exit" });
      await expect(waiting.answer).rejects.toThrow("echo thread exited");
      await expect(killer.answer).rejects.toThrow("echo thread exited");
      expect(thread.waiting(waiting.id)).toBe(false);
      const next = thread.open<string>();
      expect(next.worker).not.toBe(killer.worker);
      next.worker.postMessage({ id: next.id, kind: "echo", value: "again" });
      expect(await next.answer).toBe("again");
    } finally {
      await thread.close();
    }
  });
});
