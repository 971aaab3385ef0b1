import { registryGates } from "../../config/registry";
import { configProblems, envConfig } from "../helpers/synth";

describe("registry configuration", () => {
  test("every fixture environment renders gates with defaults for all models", () => {
    for (const name of ["dev", "staging", "prod"]) {
      const gates = registryGates(envConfig(name).registry);
      expect(gates.defaults.production).toEqual({
        metrics: [],
        requiredTags: {},
        requireSignature: true,
        requireInputExample: true,
        approval: { required: true, groups: ["ml-approvers"] },
      });
      expect(gates.defaults.staging.approval.required).toBe(false);
      expect(gates.models).toEqual({});
    }
  });

  test("per-model gates replace the defaults of their target only, with MetricThreshold fields", () => {
    const config = envConfig("dev", {
      registry: {
        gates: { production: { metrics: [{ metric: "accuracy", threshold: 0.9, notWorseThanCurrent: true }] } },
        modelGates: {
          fraud: {
            production: {
              metrics: [{ metric: "loss", greaterIsBetter: false, minRelativeChange: 0.05 }],
              requiredTags: { validation: "passed" },
            },
          },
        },
      },
    });
    const gates = registryGates(config.registry);
    expect(gates.defaults.production.metrics).toEqual([
      {
        metric: "accuracy",
        threshold: 0.9,
        greaterIsBetter: true,
        minAbsoluteChange: null,
        minRelativeChange: null,
        notWorseThanCurrent: true,
      },
    ]);
    expect(Object.keys(gates.models.fraud)).toEqual(["production"]);
    expect(gates.models.fraud.production.metrics[0]).toMatchObject({
      metric: "loss",
      greaterIsBetter: false,
      minRelativeChange: 0.05,
      threshold: null,
    });
    expect(gates.models.fraud.production.requiredTags).toEqual({ validation: "passed" });
    expect(gates.models.fraud.production.approval).toEqual({ required: true, groups: ["ml-approvers"] });
  });

  test("bad input is named with the environment and the field", () => {
    expect(configProblems({ registry: { retention: { keepVersions: 0 } } })).toEqual([
      expect.stringMatching(/^environment "dev".*registry\.retention\.keepVersions = 0: expected a whole number of at least 1/),
    ]);
    expect(configProblems({ registry: { gates: { production: { metrics: [{ metric: "accuracy" }] } } } }).join("\n")).toMatch(
      /registry\.gates\.production\.metrics\.0.*at least one of threshold/,
    );
    expect(
      configProblems({ registry: { gates: { production: { metrics: [{ metric: "accuracy", minAbsoluteChange: 0 }] } } } }).join("\n"),
    ).toMatch(/minAbsoluteChange = 0: expected a positive number/);
    expect(configProblems({ registry: { approverGroups: [] } }).join("\n")).toMatch(
      /registry\.approverGroups.*at least one approvers group: gates\.production requires an approval/,
    );
    expect(configProblems({ registry: { retention: { servedVersions: ["iris"] } } }).join("\n")).toMatch(
      /registry\.retention\.servedVersions\.0 = "iris"/,
    );
  });

  test("no approval anywhere needs no approvers group", () => {
    expect(() =>
      envConfig("dev", { registry: { approverGroups: [], gates: { production: { approval: { required: false } } } } }),
    ).not.toThrow();
  });
});

describe("registry.retention.schedule is a cron schedule Kubernetes accepts (the same check as mlflow.gc.schedule)", () => {
  it.each(["61 * * * *", "* * *", "0 25 * * *", "every day"])("refuses %j naming environment and field", (schedule) => {
    const problems = configProblems({ registry: { retention: { schedule } } });
    expect(problems.some((p) => p.startsWith('environment "dev": field registry.retention.schedule'))).toBe(true);
  });
});
