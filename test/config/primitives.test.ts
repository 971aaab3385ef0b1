/**
 * The shared string fields (config/primitives.ts): each section that takes an image, a DNS label, a
 * hostname or an e-mail address checks it by the one definition, with the same refusals.
 */
import { dnsLabel, email, hostname, imageRef } from "../../config/primitives";
import { configProblems } from "../helpers/synth";

describe("imageRef", () => {
  const schema = imageRef('"repo/image:1"');
  it.each(["ghcr.io/mlflow/mlflow:v3.17.2-full", "registry.local:5000/team/img:1.0", `repo/img@sha256:${"a".repeat(64)}`])(
    "accepts %s",
    (v) => {
      expect(schema.safeParse(v).success).toBe(true);
    },
  );
  it.each(["ghcr.io/mlflow/mlflow", "repo/img:latest", "Repo/Img:1", "repo/img@sha256:abc"])("refuses %s", (v) => {
    expect(schema.safeParse(v).success).toBe(false);
  });
  it("names the field's example", () => {
    expect(schema.safeParse("x").error?.issues[0].message).toBe('an image reference with an exact tag or digest, such as "repo/image:1"');
  });

  // Every section that takes an image refuses a moving tag; the retention image's copy of the pattern
  // had no such check.
  it.each<[string, object]>([
    ["mlflow.image", { mlflow: { image: "ghcr.io/mlflow/mlflow:latest" } }],
    ["registry.retention.image", { registry: { retention: { image: "ghcr.io/acme/runtime:latest" } } }],
    ["events.image", { events: { image: "ghcr.io/acme/runtime:latest" } }],
    ["training.image", { training: { image: "ghcr.io/acme/training:latest" } }],
  ])("%s refuses latest", (field, overrides) => {
    expect(configProblems(overrides).join("\n")).toMatch(new RegExp(`${field.replace(/\./g, "\\.")}.*not "latest"`));
  });
});

describe("dnsLabel, hostname, email", () => {
  it("dnsLabel: 1-63 lower-case letters, digits and '-', not at either end", () => {
    expect(["a", "team-a", "a".repeat(63)].map((v) => dnsLabel.safeParse(v).success)).toEqual([true, true, true]);
    expect(["", "-a", "a-", "A", "a_b", "a".repeat(64)].map((v) => dnsLabel.safeParse(v).success)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
  it("hostname: two labels at least, lower case, no scheme or port", () => {
    const h = hostname('"x.example.com"');
    expect(["mlflow.example.com", "a.b"].map((v) => h.safeParse(v).success)).toEqual([true, true]);
    expect(["localhost", "https://a.b", "a.b:443", "A.b"].map((v) => h.safeParse(v).success)).toEqual([false, false, false, false]);
  });
  it("email: one '@' and a dotted domain", () => {
    expect(["team@example.com", "a.b+c@x.y.z"].map((v) => email.safeParse(v).success)).toEqual([true, true]);
    expect(["team", "team@example", "a@b@c.d", "a b@c.d"].map((v) => email.safeParse(v).success)).toEqual([false, false, false, false]);
  });
});
