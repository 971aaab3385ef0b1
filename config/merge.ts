/** Every property optional, recursively; arrays are replaced whole, never merged. */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** Keys whose value selects the shape of the object around them (zod discriminated unions). */
const DISCRIMINATORS = ["backend", "source"];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Overlays `override` on `base`: objects merge key by key, anything else (arrays included) in
 * `override` replaces what `base` has. Neither input is modified.
 */
export function deepMerge<T>(base: T, override: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(override)) {
    return (override === undefined ? base : override) as T;
  }
  // A different discriminator (state.backend, auth.clientSecret.source) selects another shape: replace.
  for (const key of DISCRIMINATORS) {
    if (key in override && key in base && override[key] !== base[key]) return override as T;
  }
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === undefined) continue;
    out[key] = key in base ? deepMerge(base[key], value) : value;
  }
  return out as T;
}
