/**
 * The training section: bad input is refused at synth, naming the environment and the field.
 * Three invalid values for each rule the issue names (schedule, step resources, model name).
 */
import { configProblems as problems, envConfig } from "../helpers/synth";
import { TRAINING } from "../fixtures/training";
import { ARGO_WORKFLOWS_CHART_VERSION, TRAINING_STEPS } from "../../config/training";

const base = JSON.parse(JSON.stringify(TRAINING.training));
const training = (patch: (t: any) => void) => {
  const t = JSON.parse(JSON.stringify(base));
  patch(t);
  return { training: t };
};

describe("the training section", () => {
  it("accepts the fixture and applies the pinned chart and defaults", () => {
    const c = envConfig("dev", TRAINING);
    expect(c.training.enabled).toBe(true);
    expect(c.training.argo.chartVersion).toBe(ARGO_WORKFLOWS_CHART_VERSION);
    expect(c.training.identity?.audience).toBe("mlflow-pipelines");
    expect(Object.keys(c.training.steps ?? {}).sort()).toEqual([...TRAINING_STEPS].sort());
  });

  it("is off by default, and needs nothing then", () => {
    expect(envConfig("dev").training.enabled).toBe(false);
  });

  describe.each([
    ["every day at five", /environment "dev": field training\.schedule = "every day at five": expected a five-field cron schedule/],
    ["61 * * * *", /environment "dev": field training\.schedule = "61 \* \* \* \*": expected a five-field cron schedule/],
    ["0 5 * *", /environment "dev": field training\.schedule = "0 5 \* \*": expected a five-field cron schedule .*4 fields/],
  ])("a schedule that is not cron: %s", (schedule, message) => {
    it("is refused, naming environment and field", () => {
      const found = problems(
        training((t) => {
          t.schedule = schedule;
        }),
      );
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(message);
    });
  });

  const stepCases: [string, (t: any) => void, RegExp][] = [
    [
      "the tag step missing",
      (t) => {
        delete t.steps.tag;
      },
      /environment "dev": field training\.steps\.tag.*expected/,
    ],
    [
      "the train step without resources",
      (t) => {
        t.steps.train = {};
      },
      /environment "dev": field training\.steps\.train\.resources.*expected/,
    ],
    [
      "the evaluate step without a memory limit",
      (t) => {
        delete t.steps.evaluate.resources.limits.memory;
      },
      /environment "dev": field training\.steps\.evaluate\.resources\.limits\.memory.*expected/,
    ],
  ];
  it.each(stepCases)("a pipeline step without resources (%s) is refused", (_n, patch, message) => {
    const found = problems(training(patch));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });
  it("no steps at all while enabled is refused", () => {
    const found = problems(
      training((t) => {
        delete t.steps;
      }),
    );
    expect(found).toEqual([
      expect.stringMatching(
        /environment "dev": field training\.steps.*expected resources for every step \(train, evaluate, register, gates, tag\)/,
      ),
    ]);
  });

  it.each(["unknown-model", "Iris-Classifier", "iris"])(
    "an unknown model name (%s) is refused, naming the models the configuration knows",
    (name) => {
      const found = problems(
        training((t) => {
          t.modelName = name;
        }),
      );
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(
        new RegExp(
          `environment "dev": field training\\.modelName = "${name}": expected a model the configuration knows \\("iris-classifier"\\)`,
        ),
      );
    },
  );
  it("a model declared only in registry.modelGates is known", () => {
    const c = envConfig("dev", {
      ...training((t) => {
        t.modelName = "churn";
      }),
      registry: { modelGates: { churn: { staging: { metrics: [{ metric: "auc", threshold: 0.7 }] } } } },
    });
    expect(c.training.modelName).toBe("churn");
  });

  it("refuses a chart other than the pinned one", () => {
    expect(
      problems(
        training((t) => {
          t.argo.chartVersion = "0.46.0";
        }),
      ),
    ).toEqual([
      expect.stringMatching(/environment "dev": field training\.argo\.chartVersion = "0\.46\.0": expected chart version 0\.45\.27/),
    ]);
  });

  it("refuses a plain-HTTP issuer, a shared namespace and a missing UI hostname, all at once", () => {
    const found = problems(
      training((t) => {
        t.identity.issuerUrl = "http://oidc.example";
        t.namespace = "mlflow";
        delete t.argo.uiHostname;
      }),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/field training\.identity\.issuerUrl = "http:\/\/oidc\.example": expected an https:\/\/ issuer URL/),
        expect.stringMatching(/field training\.namespace = "mlflow": expected a namespace of its own/),
        expect.stringMatching(/field training\.argo\.uiHostname = nothing: expected the Argo UI's public name/),
      ]),
    );
    expect(found).toHaveLength(3);
  });
});
