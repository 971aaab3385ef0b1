/**
 * A name for an environment that a script or a test adds to a configuration it did not write (the fork
 * check's extra environment, a test's additional one, the every-option fixture merged with a fork's own
 * environments): `wanted` when no configured environment uses it, otherwise `wanted-2`, `wanted-3`, ...,
 * the first that is free. Environment names must be unique, so a fixed name fails the moment a fork
 * configures an environment of that name; everything that adds an environment goes through here.
 * Pure and dependency-free: scripts/fork-config.mjs imports it into the configuration it writes.
 */
export function freeEnvironmentName(wanted: string, taken: Iterable<string | undefined>): string {
  const used = new Set(taken);
  if (!used.has(wanted)) return wanted;
  for (let i = 2; ; i++) {
    const candidate = `${wanted}-${i}`;
    if (!used.has(candidate)) return candidate;
  }
}
