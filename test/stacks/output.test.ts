import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { cleanStackOutput } from "../../stacks/output";

describe("cleanStackOutput", () => {
  const make = () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-out-"));
    const app = new App({ outdir });
    new TerraformStack(app, "mlflow-dev");
    const dir = path.join(outdir, "stacks", "mlflow-dev");
    fs.mkdirSync(path.join(dir, "assets", "old_chart_1234"), { recursive: true });
    fs.mkdirSync(path.join(dir, ".terraform"), { recursive: true });
    for (const f of ["cdk.tf.json", "cdk.tf", "metadata.json", ".terraform.lock.hcl"]) fs.writeFileSync(path.join(dir, f), "{}");
    fs.mkdirSync(path.join(outdir, "stacks", "mlflow-prod"), { recursive: true });
    fs.writeFileSync(path.join(outdir, "stacks", "mlflow-prod", "cdk.tf.json"), "{}");
    return { app, outdir, dir };
  };

  it("removes both synth formats, metadata and assets of the stacks being synthesized: Terraform never loads a stale cdk.tf beside cdk.tf.json", () => {
    const { app, dir } = make();
    cleanStackOutput(app);
    expect(fs.readdirSync(dir).sort()).toEqual([".terraform", ".terraform.lock.hcl"]);
  });

  it("keeps Terraform's own files and the stacks an environment filter left out", () => {
    const { app, outdir } = make();
    cleanStackOutput(app);
    expect(fs.existsSync(path.join(outdir, "stacks", "mlflow-prod", "cdk.tf.json"))).toBe(true);
  });

  it("after a JSON synth, the folder holds the JSON only, even where an HCL synth ran before", () => {
    const { app, dir } = make();
    cleanStackOutput(app);
    app.synth();
    const files = fs.readdirSync(dir);
    expect(files).toContain("cdk.tf.json");
    expect(files).not.toContain("cdk.tf");
  });
});
