/**
 * Inference observability configuration: refused at synth with the environment and field named.
 * Works on whatever model the fixture's dev environment serves (a fork with other models still passes).
 */
import { configProblems, entry, envConfig } from "../helpers/synth";

const served = Object.keys((entry("dev").serving?.models ?? {}) as Record<string, unknown>);
const MODEL = served[0] ?? "iris-classifier";
const FIELDS = ["f1", "f2", "f3", "f4"];
const log = (inferenceLog: object, extra: object = {}) => ({
  serving: {
    models: { [MODEL]: { inputFields: FIELDS, inferenceLog: { enabled: true, contextFields: ["note"], ...inferenceLog }, ...extra } },
  },
});
const field = (rest: string) => new RegExp(`^environment "dev": field serving\\.models\\.${MODEL}\\.${rest}`);

describe("inference observability configuration", () => {
  it("accepts every rule kind on declared fields, with defaults", () => {
    const c = envConfig(
      "dev",
      log({
        rules: [
          { field: "f1", kind: "coarsen", step: 0.5 },
          { field: "f2", kind: "hash" },
          { field: "f3", kind: "mask", keepLast: 2 },
          { field: "f4", kind: "drop" },
          { field: "note", kind: "redact", patterns: ["email"] },
        ],
      }),
    );
    const m = c.serving.models[MODEL];
    expect(m.inferenceLog).toMatchObject({ enabled: true, sampling: 1, expireDays: 30 });
    expect(m.drift).toMatchObject({ enabled: true, psiThreshold: 0.2, pValue: 0.01, windowHours: 24 });
  });

  it.each([["height"], ["F1"], ["customer_email"]])("a rule naming a field the model does not have (%s)", (name) => {
    const found = configProblems(log({ rules: [{ field: name, kind: "drop" }] }));
    expect(found).toEqual([
      expect.stringMatching(
        field(`inferenceLog\\.rules\\.0\\.field = "${name}": expected a field of the model: one of f1, f2, f3, f4, note`),
      ),
    ]);
  });

  it("a rule when the model's inputs are not declared says to declare them", () => {
    const found = configProblems({
      serving: { models: { [MODEL]: { inputFields: [], inferenceLog: { rules: [{ field: "x", kind: "drop" }] } } } },
    });
    expect(found.join("\n")).toMatch(
      field('inferenceLog\\.rules\\.0\\.field = "x": expected a field of the model: declare the model\'s inputs in inputFields'),
    );
  });

  it.each([["scramble"], ["DROP"], [""]])("an unknown rule kind (%j)", (kind) => {
    const found = configProblems(log({ rules: [{ field: "f1", kind }] }));
    expect(found).toEqual([
      expect.stringMatching(field(`inferenceLog\\.rules\\.0\\.kind = "${kind}": expected one of drop, hash, mask, coarsen, redact`)),
    ]);
  });

  it.each([[-0.1], [1.5], ["all"]])("a sampling rate outside 0..1 (%j)", (sampling) => {
    const found = configProblems(log({ sampling }));
    expect(found).toEqual([
      expect.stringMatching(field("inferenceLog\\.sampling = .*: expected a share of requests: a number from 0 to 1")),
    ]);
  });

  it.each([["0.2"], ["high"], [null]])("a drift threshold that is not a number (%j)", (psiThreshold) => {
    const found = configProblems(log({}, { drift: { psiThreshold } }));
    expect(found).toEqual([expect.stringMatching(field("drift\\.psiThreshold = .*: expected a number above 0, such as 0.2"))]);
  });

  it("logging without declared inputs is refused, naming inputFields", () => {
    const found = configProblems({ serving: { models: { [MODEL]: { inputFields: [], inferenceLog: { enabled: true } } } } });
    expect(found.join("\n")).toMatch(field("inputFields = \\[\\]: expected the model's input fields, in order, when inferenceLog.enabled"));
  });

  it("coarsen needs a step; options of other kinds are refused", () => {
    expect(configProblems(log({ rules: [{ field: "f1", kind: "coarsen" }] })).join("\n")).toMatch(
      /rules\.0\.step.*a bucket width for coarsen/,
    );
    expect(configProblems(log({ rules: [{ field: "f1", kind: "hash", keepLast: 2 }] })).join("\n")).toMatch(
      /rules\.0\.keepLast.*only with kind mask/,
    );
  });
});
