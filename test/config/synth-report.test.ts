/**
 * What `npm run synth` tells the user besides writing cdktf.out: construct errors as configuration
 * problems (environment and field), and the warnings constructs attach (printed by main.ts, not only
 * by the cdktf CLI). Own fixtures, plus properties of whatever configuration is shipped.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { loadEnvironments } from "../../config";
import { AWS_REGIONS } from "../../config/schema";
import { constructErrorProblem, fieldOfConstructError } from "../../config/construct-errors";
import { BackendStore, type BackendStoreProps } from "../../constructs/backend-store";
import { ArtifactStore } from "../../constructs/artifact-store";
import { deepMerge } from "../../config/merge";
import { buildApp, synthMessages } from "../../main";
import { MlflowStack } from "../../stacks/mlflow-stack";
import { fixture, valid } from "./fixtures";

describe("regions", () => {
  it("accepts every region the partition helper knows, and regions opened later, with ARNs of their partition", () => {
    const later = ["ap-southeast-9", "eu-south-3", "us-isof-south-1", "eu-isoe-west-1", "us-isob-east-1", "cn-northwest-1", "eusc-de-east-1"];
    for (const region of [...AWS_REGIONS, ...later]) {
      expect(valid({}, fixture("alpha", region)).aws.region).toBe(region);
    }
  });
});

describe("errors a construct raises reach the user as configuration problems", () => {
  const failure = (build: (stack: TerraformStack) => void): Error => {
    const stack = new TerraformStack(new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "cfg-")) }), "acme-alpha");
    try {
      build(stack);
    } catch (err) {
      return err as Error;
    }
    throw new Error("the construct accepted it");
  };
  const storeProps: BackendStoreProps = { identifier: "acme-alpha", accountId: "123456789012", region: "eu-central-1", namespace: "mlflow", vpcId: "vpc-1", clientSecurityGroupId: "sg-1" };

  it.each<[string, (s: TerraformStack) => void, string]>([
    ["a backup window (backend store)", (s) => new BackendStore(s, "backend_store", { ...storeProps, backupWindow: "25:00-26:00" }), "database.backupWindow"],
    ["a database name (backend store, renamed prop)", (s) => new BackendStore(s, "backend_store", { ...storeProps, databaseName: "1db" }), "database.name"],
    ["an identifier derived from project and name", (s) => new BackendStore(s, "backend_store", { ...storeProps, identifier: "Acme_Alpha" }), "name"],
    ["a bucket name (artifact store)", (s) => new ArtifactStore(s, "artifact_store", { bucketName: "xn--acme", preventDestroy: false }), "artifacts.bucketName"],
    ["a lifecycle rule (artifact store, nested prop)", (s) => new ArtifactStore(s, "artifact_store", { bucketName: "acme-artifacts", preventDestroy: false, lifecycle: { noncurrentExpireDays: 0 } }), "artifacts.noncurrentExpireDays"],
  ])("%s", (_what, build, field) => {
    const err = failure(build);
    expect(fieldOfConstructError(err.message)).toBe(field);
    expect(constructErrorProblem(valid(), err)).toMatch(new RegExp(`^environment "alpha": field ${field.replace(".", "\\.")}: refused while building stack acme-alpha: `));
  });

  it("maps messages that name the configuration field themselves", () => {
    expect(fieldOfConstructError("TrackingServer: config.mlflow.workers = 0: expected a whole number")).toBe("mlflow.workers");
    expect(fieldOfConstructError("MlflowIngress: ingress.sslPolicy \"x\" allows TLS versions below 1.2")).toBe("ingress.sslPolicy");
    expect(fieldOfConstructError("Monitoring: thresholds.latencyP99Seconds = 1: expected at least latencyP95Seconds")).toBe("monitoring.thresholds.latencyP99Seconds");
  });

  it("names the environment even when the field cannot be told", () => {
    expect(constructErrorProblem(valid(), new Error("something else"))).toBe("environment \"alpha\": configuration: refused while building stack acme-alpha: something else");
  });
});

describe("warnings", () => {
  it("the configured stacks warn only about what their configuration leaves open (alerts without receiver nor opt-out)", () => {
    const app = buildApp({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "cfg-")), filter: "" });
    const expected = loadEnvironments()
      .filter((env) => env.monitoring.mode === "install" && !env.monitoring.slack && !env.monitoring.email && !env.monitoring.alertsReachNobody)
      .map((env) => ({ level: "warning", path: `${env.project}-${env.name}/monitoring`, message: expect.stringMatching(/reach nobody/) }));
    expect(synthMessages(app)).toEqual(expected);
  });

  it("reports a warning a construct attaches, with its path, for main.ts to print", () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "cfg-")) });
    new MlflowStack(app, valid({ monitoring: { alertsReachNobody: false } }));
    expect(synthMessages(app)).toEqual([
      { level: "warning", path: "acme-alpha/monitoring", message: expect.stringMatching(/alerts fire in Alertmanager but reach nobody/) },
    ]);
  });

  it("a non-production environment may opt out, and then is not warned", () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "cfg-")) });
    new MlflowStack(app, valid(deepMerge(fixture(), { monitoring: { alertsReachNobody: true } })));
    expect(synthMessages(app)).toEqual([]);
  });
});
