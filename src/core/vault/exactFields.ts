/** The shape check every vault parser starts with: a plain object with exactly the expected keys. */

/** A getter for the fields of a plain object that has exactly `keys` as its own keys, else null. */
export function exactFields(value: unknown, keys: readonly string[]): ((key: string) => unknown) | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const own = Object.keys(value);
  if (own.length !== keys.length || !keys.every((key) => Object.hasOwn(value, key))) return null;
  return (key) => Reflect.get(value, key);
}
