/**
 * Environments added by the fork check, by the tests and by the every-option fixture never collide with a
 * fork's own: each takes the first free name (config/free-name.ts). With fixed names, a fork that called
 * an environment "qa", "extra" or "full" failed `npm test` and the fork check with "expected a unique
 * environment name".
 */
import { freeEnvironmentName } from "../../config/free-name";
import { EVERY_OPTION_NAME } from "../fixtures/environments";
import { forkedConfiguration, type ForkedConfiguration } from "../helpers/fork-config";
import { propertyEntries } from "../helpers/synth";

/** Every name a script or test adds to a configuration it did not write. */
const GENERATED = ["qa", "extra", EVERY_OPTION_NAME];

/**
 * config/environments.ts with, appended, environments called like every generated name (and "qa-2"), each
 * unless the configuration has it already (inside the fork check, the fork's own may).
 */
const withOwn = (names: string[]) => (src: string) =>
  `${src}\nfor (const n of ${JSON.stringify(names)}) if (!environments.some((e) => e.name === n)) environments.push({ ...environments[0], name: n });\n`;

/** The fork check's (or the test's) addition took a name of its own, and every name is unique. */
function expectOneFreeAddition({ environments, before }: ForkedConfiguration, own: string[]): string {
  const names = environments.map((e) => e.name);
  expect(new Set(names).size).toBe(names.length);
  expect(before).toEqual(expect.arrayContaining(own));
  const added = names.filter((n) => !before.includes(n));
  expect(added).toHaveLength(1);
  return added[0];
}

describe("freeEnvironmentName", () => {
  it("keeps the wanted name when it is free, else takes the first free -N", () => {
    expect(freeEnvironmentName("qa", ["dev", "prod"])).toBe("qa");
    expect(freeEnvironmentName("qa", ["qa"])).toBe("qa-2");
    expect(freeEnvironmentName("qa", ["qa", "qa-2", "qa-3"])).toBe("qa-4");
    expect(freeEnvironmentName("qa", [undefined, "qa"])).toBe("qa-2");
  });
});

describe("the fork check's configuration", () => {
  it("holds a GCP and an Azure environment beside the AWS ones: the AWS-only commands get the AWS ones, the synth every one", () => {
    const { environments, all } = forkedConfiguration();
    expect(all.filter((e) => e.cloud === "gcp").length).toBeGreaterThan(0);
    expect(all.filter((e) => e.cloud === "azure").length).toBeGreaterThan(0);
    expect(environments.map((e) => e.name)).toEqual(all.filter((e) => e.cloud === "aws").map((e) => e.name));
  });
});

describe("a fork whose own environments are named like every generated one", () => {
  const own = [...GENERATED, "qa-2"];

  it("gets the fork check's fourth environment (scripts/fork-config.mjs) and the test's extra one under free names", () => {
    // The shipped configuration with the fork's own environments: fork-config.mjs adds its "qa" under a free
    // name ("qa-3" next to the fork's "qa" and "qa-2"; inside the fork check, the configuration is already a
    // fork's and the test's "extra" is what is added).
    const shipped = forkedConfiguration(withOwn(own));
    expect(expectOneFreeAddition(shipped, own)).toMatch(/^(qa|extra)-\d+$/);
    // An already forked configuration: the test adds its "extra" under a free name.
    const forked = forkedConfiguration((src) => withOwn(own)(src.split("example-org/mlflow-platform").join("acme/ml-platform")));
    expect(expectOneFreeAddition(forked, own)).toMatch(/^extra-\d+$/);
  });

  it("gets the every-option fixture environment, merged into its configuration by the property tests, under a free name", () => {
    const entries = propertyEntries(own.map((name) => ({ name })));
    const names = entries.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names[names.length - 1]).toBe(`${EVERY_OPTION_NAME}-2`);
  });
});
