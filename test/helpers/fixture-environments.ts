/**
 * Every environment the test fixtures define, validated: each exported list of environment entries and
 * each exported single entry (an object with a `name` and an `aws` section) of every module in
 * test/fixtures/, merged with that module's `shared` (or environments.ts's when it has none). A suite that
 * must hold for every fixture environment (the IAM coverage, the escalation checks, the cross-account
 * chain) reads them here, so an environment added to the fixtures is covered without editing the suite.
 */
import * as fs from "fs";
import * as path from "path";
import { shared as defaultShared } from "../fixtures/environments";
import { resolveEnvironments } from "../../config/load";
import { asConfiguration } from "./synth";
import type { DeepPartial } from "../../config/merge";
import type { EnvironmentConfig, EnvironmentInput } from "../../config/schema";

type Entry = DeepPartial<EnvironmentInput>;
const isEntry = (v: unknown): v is Entry =>
  typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as Entry).name === "string" && typeof (v as Entry).aws === "object";

export function fixtureEnvironments(): EnvironmentConfig[] {
  const dir = path.join(__dirname, "..", "fixtures");
  const out: EnvironmentConfig[] = [];
  const seen = new Set<string>();
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .sort()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- every fixture module, whatever it is called
    const mod = require(path.join(dir, file)) as Record<string, unknown>;
    const shared = (mod.shared as Entry | undefined) ?? defaultShared;
    const entries: Entry[] = [];
    for (const [name, value] of Object.entries(mod)) {
      if (name === "shared") continue;
      for (const e of Array.isArray(value) ? value.filter(isEntry) : isEntry(value) ? [value] : []) {
        if (seen.has(e.name as string)) continue;
        seen.add(e.name as string);
        entries.push(e);
      }
    }
    if (entries.length > 0) out.push(...resolveEnvironments(shared, entries));
  }
  // One configuration, as if config/environments.ts listed them all: the stacks grant each other the
  // release pipeline's image copies (the fixture's dev is the every-option environment's source).
  return [...asConfiguration(out)];
}
