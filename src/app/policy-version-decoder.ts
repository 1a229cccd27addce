import { ThreadRequests } from "../core/thread-requests.js";
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
  private readonly thread = new ThreadRequests(import.meta.url, "./policy-version-decoder-worker", {
    work: "policy version decoding",
    thread: "policy version decoder",
  });

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
    const { id, worker, answer } = this.thread.open<PolicyVersion>();
    worker.postMessage(
      { id, parts: owned },
      owned.map((p) => p.buffer as ArrayBuffer),
    );
    return answer;
  }

  close(): Promise<void> {
    return this.thread.close();
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
