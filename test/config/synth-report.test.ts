/**
 * What `npm run synth` tells the user besides writing cdktf.out: construct errors as configuration
 * problems (environment and field), and the warnings constructs attach (printed by main.ts, not only
 * by the cdktf CLI). Own fixtures, plus properties of whatever configuration is shipped.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { loadAllEnvironments } from "../../config";
import { AWS_REGIONS } from "../../config/schema";
import { PropError } from "../../constructs/core/prop-error";
import { fieldOfPropError, stackErrorProblem } from "../../stacks/prop-errors";
import { BackendStore, type BackendStoreProps } from "../../constructs/backend-store";
import { ArtifactStore } from "../../constructs/artifact-store";
import { deepMerge } from "../../config/merge";
import { buildApp, synthMessages } from "../../main";
import { MlflowStack } from "../../stacks/mlflow-stack";
import { fixture, valid } from "./fixtures";

describe("regions", () => {
  it("accepts every region the partition helper knows, and regions opened later, with ARNs of their partition", () => {
    const later = [
      "ap-southeast-9",
      "eu-south-3",
      "us-isof-south-1",
      "eu-isoe-west-1",
      "us-isob-east-1",
      "cn-northwest-1",
      "eusc-de-east-1",
    ];
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
  const storeProps: BackendStoreProps = {
    identifier: "acme-alpha",
    accountId: "123456789012",
    region: "eu-central-1",
    namespace: "mlflow",
    vpcId: "vpc-1",
    clientSecurityGroupId: "sg-1",
  };

  it.each<[string, (s: TerraformStack) => void, string]>([
    [
      "a backup window (backend store)",
      (s) => new BackendStore(s, "backend_store", { ...storeProps, backupWindow: "25:00-26:00" }),
      "database.backupWindow",
    ],
    [
      "a database name (backend store, renamed prop)",
      (s) => new BackendStore(s, "backend_store", { ...storeProps, databaseName: "1db" }),
      "database.name",
    ],
    [
      "an identifier derived from project and name",
      (s) => new BackendStore(s, "backend_store", { ...storeProps, identifier: "Acme_Alpha" }),
      "name",
    ],
    [
      "a bucket name (artifact store)",
      (s) => new ArtifactStore(s, "artifact_store", { bucketName: "xn--acme", preventDestroy: false }),
      "artifacts.bucketName",
    ],
    [
      "a lifecycle rule (artifact store, nested prop)",
      (s) =>
        new ArtifactStore(s, "artifact_store", {
          bucketName: "acme-artifacts",
          preventDestroy: false,
          lifecycle: { noncurrentExpireDays: 0 },
        }),
      "artifacts.noncurrentExpireDays",
    ],
  ])("%s", (_what, build, field) => {
    const err = failure(build);
    expect(err).toBeInstanceOf(PropError);
    expect(fieldOfPropError(valid(), err as PropError)).toBe(field);
    expect(stackErrorProblem(valid(), err)).toMatch(
      new RegExp(`^environment "alpha": field ${field.replace(".", "\\.")}: refused while building stack acme-alpha: `),
    );
  });

  it("finds the field by the construct's path and the prop's longest mapped prefix, never by the message", () => {
    const field = (path: string, prop: string) => fieldOfPropError(valid(), new PropError(path, prop, 0, "anything"));
    expect(field("acme-alpha/tracking_server", "workers")).toBe("mlflow.workers");
    expect(field("acme-alpha/ingress", "sslPolicy")).toBe("ingress.sslPolicy");
    // Nested under a mapped prop; list indices ignored.
    expect(field("acme-alpha/monitoring", "thresholds.latencyP99Seconds")).toBe("monitoring.thresholds.latencyP99Seconds");
    expect(field("acme-alpha/backend_store", "alarmEmails[2]")).toBe("notifications.emails");
    // A per-model prop: the model's key fills the field's "*".
    expect(field("acme-alpha/monitoring", "modelServing.models[iris].psiThreshold")).toBe("serving.models.iris.drift.psiThreshold");
    // A child construct with its own map ("role" of the training pipeline), and one without ("Default" is its parent).
    expect(field("acme-alpha/training/role", "roleName")).toBe("name");
    expect(field("acme-alpha/tracking_identity/Default", "clusterName")).toBe("cluster.name");
    // The message does not matter: one that names another field changes nothing.
    expect(fieldOfPropError(valid(), new PropError("acme-alpha/tracking_server", "workers", 0, "unlike ingress.sslPolicy"))).toBe(
      "mlflow.workers",
    );
  });

  it("says so when the stack set the refused prop itself, with the construct and prop", () => {
    const err = new PropError("acme-alpha/tracking_server", "artifactStore.destinationUri", "x", "an s3://<bucket>/<prefix> URI");
    expect(fieldOfPropError(valid(), err)).toBeNull();
    expect(stackErrorProblem(valid(), err)).toBe(
      'environment "alpha": refused while building stack acme-alpha: acme-alpha/tracking_server: artifactStore.destinationUri is "x": expected an s3://<bucket>/<prefix> URI (the stack sets artifactStore.destinationUri itself, from no single configuration field: a bug in stacks/ or a from-config mapping)',
    );
  });

  it("names the environment, the construct and the prop when no map lists it", () => {
    const err = new PropError("acme-alpha/some_new_construct", "size", 3, "at most 2");
    expect(fieldOfPropError(valid(), err)).toBeUndefined();
    expect(stackErrorProblem(valid(), err)).toBe(
      'environment "alpha": refused while building stack acme-alpha: acme-alpha/some_new_construct: size is 3: expected at most 2 (no configuration field is mapped to prop size of acme-alpha/some_new_construct: add it to the construct\'s PropFieldMap)',
    );
    expect(stackErrorProblem(valid(), new PropError("acme-alpha/tracking_server", "notAProp", 1, "x"))).toMatch(
      /no configuration field is mapped to prop notAProp of acme-alpha\/tracking_server/,
    );
  });

  it("names the environment for any other error", () => {
    expect(stackErrorProblem(valid(), new Error("something else"))).toBe(
      'environment "alpha": configuration: refused while building stack acme-alpha: something else',
    );
  });
});

describe("warnings", () => {
  it("the configured stacks warn only about what their configuration leaves open (alerts without receiver nor opt-out)", () => {
    const app = buildApp({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "cfg-")), filter: "" });
    // Every environment of any cloud (a fork may add a GCP or an Azure one): a GCP or Azure stack also says that
    // registry retention is not deployed there.
    const expected = loadAllEnvironments().flatMap((env) => [
      ...(env.cloud === "gcp" || env.cloud === "azure"
        ? [
            {
              level: "warning",
              path: `${env.project}-${env.name}`,
              message: expect.stringMatching(
                env.cloud === "gcp" ? /registry retention is not deployed on GCP/ : /registry retention is not deployed on Azure/,
              ),
            },
          ]
        : []),
      ...(env.monitoring.mode === "install" && !env.monitoring.slack && !env.monitoring.email && !env.monitoring.alertsReachNobody
        ? [{ level: "warning", path: `${env.project}-${env.name}/monitoring`, message: expect.stringMatching(/reach nobody/) }]
        : []),
    ]);
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
