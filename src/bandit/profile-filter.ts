import type { FeatureMap } from "../core/types.js";
import type { ProfileSelection } from "./encoder-types.js";
import { MEMO_LIMIT } from "./feature-hashes.js";

/**
 * A ProfileSelection as a predicate on names, memoized per name (the profile's names are a small fixed set
 * that repeats on every request).
 */
export class ProfileFilter {
  readonly none: boolean;
  private readonly all: boolean;
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];
  private readonly memo = new Map<string, boolean>();

  constructor(selection: ProfileSelection) {
    this.all = selection === "all";
    this.none = selection === "none" || (Array.isArray(selection) && selection.length === 0);
    if (Array.isArray(selection)) {
      for (const p of selection) {
        if (p.endsWith("*")) this.prefixes.push(p.slice(0, -1));
        else this.exact.add(p);
      }
    }
  }

  accepts(name: string): boolean {
    if (this.all) return true;
    if (this.none) return false;
    let ok = this.memo.get(name);
    if (ok === undefined) {
      ok = this.exact.has(name) || this.prefixes.some((p) => name.startsWith(p));
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      this.memo.set(name, ok);
    }
    return ok;
  }

  /** The accepted part of a profile; the profile itself when all of it is. */
  select(profile: FeatureMap | undefined): FeatureMap | undefined {
    if (profile === undefined || this.none) return undefined;
    if (this.all) return profile;
    const out: FeatureMap = {};
    for (const name in profile) if (this.accepts(name)) out[name] = profile[name]!;
    return out;
  }
}
