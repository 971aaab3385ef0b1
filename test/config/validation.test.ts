import { environments, shared } from "../fixtures/environments";
import { ConfigError, resolveEnvironments, selectEnvironments } from "../../config/load";
import { deepMerge } from "../../config/merge";
import { configProblems as problems, entry, envConfig } from "../helpers/synth";

describe("the test fixture configuration", () => {
  it("validates every environment and applies shared values with per-environment overrides", () => {
    const all = resolveEnvironments(shared, environments);
    expect(all.map((e) => e.name)).toEqual(["dev", "staging", "prod"]);
    const [dev, staging, prod] = all;
    expect(dev.database.instanceClass).toBe("db.t4g.micro");
    expect(staging.database.instanceClass).toBe("db.t4g.small"); // from shared
    expect(prod.database.instanceClass).toBe("db.r7g.large");
    expect(prod.database.multiAz).toBe(true);
    expect(prod.database.deletionProtection).toBe(true);
    expect(prod.database.backupRetentionDays).toBeGreaterThanOrEqual(14);
    expect(new Set(all.map((e) => e.aws.accountId)).size).toBe(3);
    expect(dev.mlflow.gc.olderThanDays).toBe(30); // schema default via shared
  });

  it("gives every environment its own state key", () => {
    const keys = resolveEnvironments(shared, environments).map((e) => (e.state.backend === "s3" ? e.state.key : e.state.path));
    expect(keys.every((k) => k.includes("{env}"))).toBe(true);
  });
});

describe("bad input fails before synthesis with one message per problem", () => {
  const cases: [string, object, RegExp][] = [
    [
      "malformed account id",
      { aws: { accountId: "12345" } },
      /environment "dev": field aws\.accountId = "12345": expected a 12-digit AWS account id/,
    ],
    [
      "malformed region",
      { aws: { region: "eu-west" } },
      /environment "dev": field aws\.region = "eu-west": expected an AWS region such as "eu-west-1"/,
    ],
    [
      "negative retention",
      { artifacts: { noncurrentExpireDays: -5 } },
      /field artifacts\.noncurrentExpireDays = -5: expected days: a whole number from 1 to 36500/,
    ],
    [
      "zero replicas",
      { mlflow: { replicas: { min: 0, max: 2 } } },
      /field mlflow\.replicas\.min = 0: expected replicas: a whole number from 1 to 100/,
    ],
    [
      "hostname that is not a hostname",
      { hostname: "https://mlflow.example.com/" },
      /field hostname = "https:\/\/mlflow\.example\.com\/": expected a lower-case DNS hostname/,
    ],
    [
      "min replicas above max",
      { mlflow: { replicas: { min: 3, max: 2 } } },
      /field mlflow\.replicas\.min = 3: expected at most replicas\.max \(2\)/,
    ],
    [
      "memory limit below request",
      { mlflow: { resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { memory: "1Gi" } } } },
      /field mlflow\.resources\.limits\.memory = "1Gi": expected at least the memory request \(2Gi\)/,
    ],
    ["unknown field (typo)", { databse: {} }, /^environment "dev": field databse: unknown key \(did you mean "database"\?\)$/],
  ];
  it.each(cases)("%s", (_name, overrides, message) => {
    const found = problems(overrides);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it("prod without deletion protection or final snapshot is refused", () => {
    const found = problems({ database: { deletionProtection: false, finalSnapshot: false } }, "prod");
    expect(found).toEqual([
      expect.stringMatching(/environment "prod": field database\.deletionProtection = false: expected true in a production environment/),
      expect.stringMatching(/environment "prod": field database\.finalSnapshot = false: expected true in a production environment/),
    ]);
  });

  it("reports every problem of every environment at once", () => {
    const bad = environments.map((e) => deepMerge(e, { aws: { accountId: "x" } }));
    expect(() => resolveEnvironments(shared, bad)).toThrow(ConfigError);
    try {
      resolveEnvironments(shared, bad);
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.split(":")[0])).toEqual(environments.map((e) => `environment "${e.name}"`));
      expect((err as ConfigError).message).toMatch(new RegExp(`^Invalid configuration \\(${environments.length} problems?\\):`));
    }
  });

  it("an external id for the assumed role with exec authentication to the cluster", () => {
    expect(problems({ aws: { assumeRoleArn: "arn:aws:iam::111111111111:role/deployer", assumeRoleExternalId: "ext-1234" } })).toEqual([
      expect.stringMatching(/environment "dev": field cluster\.auth = "exec": expected "token" when aws\.assumeRoleExternalId is set/),
    ]);
    expect(() =>
      envConfig("dev", {
        aws: { assumeRoleArn: "arn:aws:iam::111111111111:role/deployer", assumeRoleExternalId: "ext-1234" },
        cluster: { auth: "token" },
      }),
    ).not.toThrow();
  });

  it("duplicate environment names", () => {
    expect(() => resolveEnvironments(shared, [entry("dev"), entry("staging"), { ...entry("staging") }])).toThrow(
      /environment "staging": field name = "staging": expected a unique environment name \(entry #2 already uses it\)/,
    );
  });

  it("no environments at all", () => {
    expect(() => resolveEnvironments(shared, [])).toThrow(/no environments are configured/);
  });
});

describe("merging shared values", () => {
  it("replaces a discriminated section when its kind changes (state backend s3 -> local)", () => {
    const local = envConfig("dev", { state: { backend: "local" } });
    expect(local.state).toEqual({ backend: "local", path: "../../../terraform.{env}.tfstate" });
  });
  it("replaces arrays instead of concatenating them", () => {
    expect(envConfig("dev", { auth: { allowedEmailDomains: ["corp.example"] } }).auth.allowedEmailDomains).toEqual(["corp.example"]);
  });
});

describe("environment filter", () => {
  const all = resolveEnvironments(shared, environments);
  it("keeps only the named environments", () => {
    expect(selectEnvironments(all, "prod, dev").map((e) => e.name)).toEqual(["dev", "prod"]);
    expect(selectEnvironments(all, undefined)).toHaveLength(3);
    expect(selectEnvironments(all, "")).toHaveLength(3);
  });
  it("refuses an unknown name instead of synthesizing nothing", () => {
    expect(() => selectEnvironments(all, "prd")).toThrow(/environment filter names "prd": expected one of dev, staging, prod/);
  });
});
