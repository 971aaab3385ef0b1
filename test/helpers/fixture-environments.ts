/**
 * Every environment the test fixtures define, validated: each exported list of entries and each exported
 * single entry of test/fixtures/environments.ts, merged with its `shared`. A suite that must hold for
 * every fixture environment (the IAM coverage, the cross-account chain) reads them here, so an environment
 * added to the fixture is covered without editing the suite.
 */
import * as fixtures from "../fixtures/environments";
import { resolveEnvironments } from "../../config/load";
import type { DeepPartial } from "../../config/merge";
import type { EnvironmentConfig, EnvironmentInput } from "../../config/schema";

type Entry = DeepPartial<EnvironmentInput>;
const isEntry = (v: unknown): v is Entry => typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as Entry).name === "string";

export function fixtureEnvironments(): EnvironmentConfig[] {
  const entries = new Map<string, Entry>();
  for (const [exportName, value] of Object.entries(fixtures)) {
    if (exportName === "shared") continue;
    const list = Array.isArray(value) ? value.filter(isEntry) : isEntry(value) ? [value] : [];
    for (const e of list) if (!entries.has(e.name as string)) entries.set(e.name as string, e);
  }
  return resolveEnvironments(fixtures.shared, [...entries.values()]);
}
