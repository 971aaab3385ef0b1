/**
 * Environments added by the fork check, by the tests and by the every-option fixture never collide with a
 * fork's own: each takes the first free name (config/free-name.ts). With fixed names, a fork that called
 * an environment "qa", "extra" or "full" failed `npm test` and the fork check with "expected a unique
 * environment name".
 */
import { freeEnvironmentName } from "../../config/free-name";
import { EVERY_OPTION_NAME } from "../fixtures/environments";
import { forkedConfiguration } from "../helpers/fork-config";
import { propertyEntries } from "../helpers/synth";

/** Every name a script or test adds to a configuration it did not write. */
const GENERATED = ["qa", "extra", EVERY_OPTION_NAME];

/** config/environments.ts with, appended, environments called like every generated name (and "qa-2"). */
const withOwn = (names: string[]) => (src: string) =>
  `${src}\n${names.map((n) => `environments.push({ ...environments[0], name: ${JSON.stringify(n)} });`).join("\n")}\n`;

describe("freeEnvironmentName", () => {
  it("keeps the wanted name when it is free, else takes the first free -N", () => {
    expect(freeEnvironmentName("qa", ["dev", "prod"])).toBe("qa");
    expect(freeEnvironmentName("qa", ["qa"])).toBe("qa-2");
    expect(freeEnvironmentName("qa", ["qa", "qa-2", "qa-3"])).toBe("qa-4");
    expect(freeEnvironmentName("qa", [undefined, "qa"])).toBe("qa-2");
  });
});

describe("a fork whose own environments are named like every generated one", () => {
  const own = [...GENERATED, "qa-2"];

  it("gets the fork check's fourth environment (scripts/fork-config.mjs) and the test's extra one under free names", () => {
    // The shipped configuration with the fork's own environments: fork-config.mjs adds its "qa" under a free name.
    const shipped = forkedConfiguration(withOwn(own));
    const names = shipped.environments.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining([...own, "qa-3"]));
    // An already forked configuration (the suite inside the fork check): the test adds its "extra" under a free name.
    const forked = forkedConfiguration((src) => withOwn(own)(src.split("example-org/mlflow-platform").join("acme/ml-platform")));
    const forkedNames = forked.environments.map((e) => e.name);
    expect(new Set(forkedNames).size).toBe(forkedNames.length);
    expect(forkedNames).toEqual(expect.arrayContaining([...own, "extra-2"]));
  });

  it("gets the every-option fixture environment, merged into its configuration by the property tests, under a free name", () => {
    const entries = propertyEntries(own.map((name) => ({ name })));
    const names = entries.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names[names.length - 1]).toBe(`${EVERY_OPTION_NAME}-2`);
  });
});
