/**
 * Lookups by a key that came from outside (an event type, a policy type, an estimator name, a map key in a
 * request or config): only the object's own properties count. `obj[key]` would also find `constructor`,
 * `toString` or `__proto__` on Object.prototype and hand the caller a function (issue 14, defect 1).
 */
export function ownValue<V>(obj: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
