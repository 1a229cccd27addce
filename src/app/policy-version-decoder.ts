import type { Worker } from "node:worker_threads";
import { startWorker } from "../core/worker-url.js";
import { decodePolicyVersion, type PolicyVersion } from "../duties/learner-snapshots.js";

/**
 * Decodes policy versions (duties/learner-snapshots.ts) on a thread of its own and hands the result back with
 * its arrays transferred, not copied. Why: an API node that joins or falls behind decodes a full of ~35 MB at
 * the default policy's 2,000 arms, 25-90 ms of V8 deserialization in one call that cannot be split; on its
 * event loop every request waited behind it. Receiving the decoded snapshot costs the event loop ~12 ms of CPU at
 * 2,000 arms (the structured clone of ~10k small objects; the arrays move). The thread starts at the first
 * decode and does not keep the process alive while idle. One per process (`sharedPolicyVersionDecoder`): a node
 * decodes a full when it joins or falls behind, rarely, and starting a thread costs more than the decode.
 */
export class PolicyVersionDecoder {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: PolicyVersion) => void; reject: (e: Error) => void }>();

  /**
   * The version whose bytes are `parts` joined, decoded: on the thread when they are at least `offThreadBytes`
   * long, else here at once (a thread's round trip costs more than decoding a small version). The parts are
   * taken: their buffers move to the thread (a part that does not span its buffer whole is copied first), so the
   * caller must not read them again. Parts, not one array: joining ~35 MB here would be one long turn.
   */
  decode(parts: Uint8Array[], offThreadBytes: number): Promise<PolicyVersion> {
    const size = parts.reduce((n, p) => n + p.byteLength, 0);
    if (size < offThreadBytes) return Promise.resolve().then(() => decodePolicyVersion(Buffer.concat(parts)));
    const owned = parts.map(ownedBytes);
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage(
        { id, parts: owned },
        owned.map((p) => p.buffer as ArrayBuffer),
      );
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(import.meta.url, "./policy-version-decoder-worker");
    worker.on("message", (msg: { id: number; version?: PolicyVersion; error?: string }) => {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (!p) return;
      if (msg.version) p.resolve(msg.version);
      else p.reject(new Error(`policy version decoding failed: ${msg.error}`));
    });
    const failAll = (reason: string) => {
      if (this.worker === worker) this.worker = undefined; // the next decode starts a new thread
      for (const p of this.pending.values()) p.reject(new Error(reason));
      this.pending.clear();
    };
    worker.on("error", (e) => failAll(`policy version decoder failed: ${e.message}`));
    worker.on("exit", () => failAll("policy version decoder exited"));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

/** `bytes` if they span an ArrayBuffer of their own whole (transferable without taking others' bytes), else a copy. */
function ownedBytes(bytes: Uint8Array): Uint8Array {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return whole && bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes);
}

let shared: PolicyVersionDecoder | undefined;

/** The process's decoder (see the class doc); never closed: its idle thread does not keep the process alive. */
export function sharedPolicyVersionDecoder(): PolicyVersionDecoder {
  shared ??= new PolicyVersionDecoder();
  return shared;
}
