import { App, Testing, TerraformStack } from "cdktf";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { DbInstance } from "@cdktf/provider-aws/lib/db-instance";
import { allRules, applyPolicies, BucketEncrypted, PolicyPack, takePolicyCheckedJson } from "../../policies";
import { ArtifactStore } from "../../constructs/artifact-store";
import { MlflowStack } from "../../stacks/mlflow-stack";
import { envConfig } from "../helpers/synth";

const errorsOf = (stack: TerraformStack) =>
  stack.node
    .findAll()
    .flatMap((n) => n.node.metadata.filter((m) => m.type === "@cdktf/error").map((m) => `${n.node.path}: ${String(m.data)}`));

describe("policy aspects", () => {
  it("annotate the offending resource with the rule id, the finding and the reason", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "bad");
    new S3Bucket(stack, "naked", { bucket: "naked-bucket" });
    applyPolicies(stack);
    Testing.synth(stack);
    const errors = errorsOf(stack);
    expect(errors).toContain(
      "bad/naked: [MLF-S3-1] bucket has no server-side encryption configuration (aws_s3_bucket.naked). " + new BucketEncrypted().reason,
    );
    expect(errors.some((e) => e.startsWith("bad/naked: [MLF-S3-2] public access not blocked"))).toBe(true);
    expect(errors.some((e) => e.startsWith("bad/naked: [MLF-S3-3] no bucket policy denies non-TLS"))).toBe(true);
  });

  it("abort cdktf synth when a rule is violated", () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "policy-")), skipValidation: true });
    const stack = new TerraformStack(app, "bad");
    new DbInstance(stack, "db", { instanceClass: "db.t4g.micro", publiclyAccessible: true, password: "hunter2hunter2" });
    applyPolicies(stack);
    expect(() => app.synth()).toThrow(
      /\[bad\/db\] \[MLF-RDS-1\][\s\S]*\[bad\/db\] \[MLF-RDS-2\] publicly_accessible must be false[\s\S]*\[bad\/db\] \[MLF-SEC-1\] attribute "password" holds a literal value/,
    );
  });

  it("leave a compliant stack without annotations", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "good");
    new ArtifactStore(stack, "store", { bucketName: "good-bucket", preventDestroy: false });
    applyPolicies(stack);
    Testing.synth(stack);
    expect(errorsOf(stack)).toEqual([]);
  });

  it("have unique ids and a reason each", () => {
    const rules = allRules();
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
    for (const r of rules) expect(r.reason.length).toBeGreaterThan(40);
  });
});

describe("one resolution per synthesis", () => {
  /** A stack that hands cdktf the JSON its policy pack checked, as MlflowStack does. */
  class CheckedStack extends TerraformStack {
    override toTerraform(): any {
      return takePolicyCheckedJson(this) ?? super.toTerraform();
    }
  }
  const build = (stack: TerraformStack) => {
    new ArtifactStore(stack, "store", { bucketName: "good-bucket", preventDestroy: false });
    applyPolicies(stack);
    return stack;
  };
  /** Counts full resolutions (TerraformStack's own toTerraform) while `fn` runs. */
  const resolutionsDuring = (fn: () => void) => {
    const spy = jest.spyOn(TerraformStack.prototype, "toTerraform");
    try {
      fn();
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  };

  it("a stack that takes the checked JSON is resolved once, and writes the same JSON as one resolved twice", () => {
    let once = "";
    let twice = "";
    expect(resolutionsDuring(() => (once = Testing.synth(build(new CheckedStack(Testing.app(), "s")))))).toBe(1);
    expect(resolutionsDuring(() => (twice = Testing.synth(build(new TerraformStack(Testing.app(), "s")))))).toBe(2);
    expect(once).toEqual(twice);
    expect(JSON.parse(once).resource.aws_s3_bucket).toBeDefined();
  });

  it("MlflowStack is resolved once per synthesis", () => {
    expect(resolutionsDuring(() => Testing.synth(new MlflowStack(Testing.app(), envConfig("dev"))))).toBe(1);
  });

  it("hands the checked JSON out once, and not at all once a construct was added after the check", () => {
    const stack = new CheckedStack(Testing.app(), "s");
    const pack = new PolicyPack([]);
    pack.visit(stack);
    expect(takePolicyCheckedJson(stack)).toBeDefined();
    expect(takePolicyCheckedJson(stack)).toBeUndefined();
    pack.visit(stack);
    new S3Bucket(stack, "late", { bucket: "late-bucket" });
    expect(takePolicyCheckedJson(stack)).toBeUndefined();
    // So cdktf resolves the stack again, and the late bucket is written.
    expect(Object.keys(JSON.parse(Testing.synth(stack)).resource.aws_s3_bucket)).toEqual(["late"]);
  });
});
