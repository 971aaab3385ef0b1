/**
 * The Training construct: the WorkflowTemplate runs exactly the pure step commands, every pod
 * is restricted and bounded, identities are least-privileged, Argo is pinned and signed in through the
 * platform's issuer, and the proxy admits the pipeline's service account and nothing wider.
 */
import * as fs from "fs";
import * as path from "path";
import { Testing, TerraformStack } from "cdktf";
import { MLFLOW_WORKSPACE_ENV, trainingStepCommands, TOKEN_WRAPPER, TRAINING_GATES_CONFIGMAP } from "../../../constructs/training/command";
import { accessPolicyConfigMapName } from "../../../constructs/access/access-command";
import { deepMerge } from "../../../config/merge";
import {
  authProxySecretRefs,
  oauth2ProxyCommand,
  WORKLOAD_IDENTITIES_CONFIGMAP,
  WORKLOAD_IDENTITIES_FILE,
} from "../../../constructs/auth-proxy/oauth2-proxy-command";
import { oauth2ProxySettings, trainingSubject } from "../../../constructs/auth-proxy/from-config";
import type { EnvironmentConfig } from "../../../config";

/** The proxy's command of an environment, through the one mapping the stack uses (auth-proxy/from-config.ts). */
const proxyCommandOf = (config: EnvironmentConfig) =>
  oauth2ProxyCommand({
    ...oauth2ProxySettings(config),
    upstream: { namespace: "mlflow", serviceName: "mlflow", port: 5000 },
    secrets: authProxySecretRefs(config.auth.clientSecret),
  });
import { Training } from "../../../constructs/training";
import { argoArtifactPrefix, pipelineGates, trainingProps } from "../../../constructs/training/from-config";
import { ARGO_WORKFLOWS_CHART_VERSION } from "../../../config/training";
import { TRAINING } from "../../fixtures/training";
import { configured, envConfig, resourcesOf, synthJson, SHIPPED, type TfJson } from "../../helpers/synth";

const ROOT = path.join(__dirname, "..", "..", "..");
const releases = (json: TfJson) => resourcesOf(json, "helm_release");
const pipelineResources = (json: TfJson): any[] => {
  const key = Object.keys(releases(json)).find((k) => k.startsWith("training_pipeline"));
  if (!key) throw new Error("no training pipeline release");
  return JSON.parse((releases(json)[key] as any).values[0]).resources;
};
const configMap = (json: TfJson, name: string): any =>
  Object.values(resourcesOf(json, "kubernetes_config_map_v1")).find((c: any) => c.metadata.name === name);

describe("training on the fixture (enabled)", () => {
  const config = envConfig("dev", TRAINING);
  const json = synthJson(config);
  const [wt, cron] = pipelineResources(json);
  const steps = trainingStepCommands(config);

  it("the WorkflowTemplate runs the pure step commands, in order", () => {
    expect(wt.kind).toBe("WorkflowTemplate");
    expect(wt.spec.templates[0].steps.map((g: any) => g.map((s: any) => s.name))).toEqual(steps.map((s) => [s.step]));
    for (const s of steps) {
      const t = wt.spec.templates.find((x: any) => x.name === s.step);
      expect(t.container.image).toBe(config.training.image);
      expect(t.container.command).toEqual([...s.command.command]);
      expect(t.container.args).toEqual([...s.command.args]);
      expect(t.container.env).toEqual(s.command.env.map((e: any) => ({ name: e.name, value: e.value })));
      expect(t.container.command[2]).toBe(TOKEN_WRAPPER);
    }
  });

  it("passes outputs to the steps that need them", () => {
    const evaluate = wt.spec.templates[0].steps[1][0];
    expect(evaluate.arguments.parameters).toEqual([{ name: "run-id", value: "{{steps.train.outputs.parameters.run-id}}" }]);
    const gates = wt.spec.templates[0].steps[3][0];
    expect(gates.arguments.parameters).toEqual([{ name: "version", value: "{{steps.register.outputs.parameters.version}}" }]);
  });

  it("every step has its configured resources, a deadline and the restricted security context", () => {
    for (const t of wt.spec.templates.slice(1)) {
      const want = (config.training.steps as any)[t.name].resources;
      expect(t.container.resources).toEqual({ requests: want.requests, limits: { memory: want.limits.memory } });
      expect(t.activeDeadlineSeconds).toBe(config.training.stepDeadlineSeconds);
      expect(t.container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
    }
    expect(wt.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
  });

  it("pods get no Kubernetes API token, only the MLflow-audience projected token; the executor has its own account", () => {
    expect(wt.spec.serviceAccountName).toBe("training-pipeline");
    expect(wt.spec.automountServiceAccountToken).toBe(false);
    expect(wt.spec.executor).toEqual({ serviceAccountName: "training-pipeline-executor" });
    const token = wt.spec.volumes.find((v: any) => v.name === "mlflow-token");
    expect(token.projected.sources).toEqual([
      { serviceAccountToken: { audience: "mlflow-pipelines", expirationSeconds: config.training.stepDeadlineSeconds, path: "token" } },
    ]);
    expect(`system:serviceaccount:${config.training.namespace}:${wt.spec.serviceAccountName}`).toBe(trainingSubject(config));
  });

  it("the executor may only create and patch workflowtaskresults", () => {
    const roles = Object.values(resourcesOf(json, "kubernetes_role_v1")).filter(
      (r: any) => r.metadata.namespace === config.training.namespace,
    );
    expect(roles).toHaveLength(1);
    expect((roles[0] as any).rule).toEqual([
      { api_groups: ["argoproj.io"], resources: ["workflowtaskresults"], verbs: ["create", "patch"] },
    ]);
    const bindings = Object.values(resourcesOf(json, "kubernetes_role_binding_v1")).filter(
      (r: any) => r.metadata.namespace === config.training.namespace,
    );
    expect((bindings[0] as any).subject).toEqual([
      { kind: "ServiceAccount", name: "training-pipeline-executor", namespace: config.training.namespace },
    ]);
  });

  it("the pods' IAM role reaches only Argo's prefix of the artifact bucket", () => {
    const policy = Object.entries(resourcesOf(json, "aws_iam_role_policy")).find(([k]) => k.startsWith("training_role"))![1] as any;
    const doc = JSON.parse(policy.policy);
    const prefix = argoArtifactPrefix(config);
    expect(doc.Statement.find((s: any) => s.Sid === "ReadWriteArgoArtifacts").Resource).toMatch(new RegExp(`/${prefix}/\\*$`));
    expect(doc.Statement.find((s: any) => s.Sid === "ListArgoPrefix").Condition).toEqual({ StringLike: { "s3:prefix": [`${prefix}/*`] } });
    expect(doc.Statement.flatMap((s: any) => [].concat(s.Action)).sort()).toEqual([
      "kms:Decrypt",
      "kms:GenerateDataKey",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
    const repo = configMap(json, "artifact-repositories");
    expect(repo.data.default).toContain(`keyFormat: "${prefix}/{{workflow.name}}/{{pod.name}}"`);
    expect(repo.data.default).toContain("useSDKCreds: true");
    expect(repo.data.default).not.toMatch(/accessKeySecret|secretKeySecret/);
  });

  it("installs the pinned Argo Workflows, SSO through the platform's issuer as the only auth mode", () => {
    const argo = Object.values(releases(json)).find((r: any) => r.chart === "argo-workflows") as any;
    expect(argo.version).toBe(ARGO_WORKFLOWS_CHART_VERSION);
    expect(argo.repository).toBe("https://argoproj.github.io/argo-helm");
    const values = JSON.parse(argo.values[0]);
    expect(values.server.authModes).toEqual(["sso"]);
    expect(values.server.sso).toMatchObject({
      enabled: true,
      issuer: config.auth.issuerUrl,
      redirectUrl: "https://argo.example.com/oauth2/callback",
    });
    expect(values.controller.workflowNamespaces).toEqual([config.training.namespace]);
    expect(values.useStaticCredentials).toBe(false);
  });

  it("the CronWorkflow submits the template on the configured schedule, never twice at once", () => {
    expect(cron).toMatchObject({
      kind: "CronWorkflow",
      spec: {
        schedules: [config.training.schedule],
        concurrencyPolicy: "Forbid",
        workflowSpec: { workflowTemplateRef: { name: wt.metadata.name } },
      },
    });
  });

  it("the gates step reads the registry's gates without the manual approval (a person approves at promotion)", () => {
    const gates = JSON.parse(configMap(json, TRAINING_GATES_CONFIGMAP).data["gates.json"]);
    expect(gates).toEqual(pipelineGates(config));
    expect(gates.defaults.production.approval.required).toBe(false);
    expect(gates.defaults.production.requireSignature).toBe(true);
  });

  it("the proxy accepts the cluster's issuer for the dedicated audience and admits only the pipeline's subject", () => {
    const cmd = proxyCommandOf(config);
    const env = Object.fromEntries(cmd.env.map((e: any) => [e.name, e.value]));
    expect(env.OAUTH2_PROXY_EXTRA_JWT_ISSUERS).toBe(`${config.training.identity!.issuerUrl}=mlflow-pipelines`);
    expect(env.OAUTH2_PROXY_AUTHENTICATED_EMAILS_FILE).toBe(WORKLOAD_IDENTITIES_FILE);
    expect(configMap(json, WORKLOAD_IDENTITIES_CONFIGMAP).data.subjects).toBe(`${trainingSubject(config)}\n`);
    const proxy = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find((d: any) => d.metadata.name === "oauth2-proxy") as any;
    const pod = proxy.spec.template.spec;
    expect(pod.container[0].volume_mount).toEqual([
      { name: "file-0", mount_path: WORKLOAD_IDENTITIES_FILE, sub_path: "file", read_only: true },
    ]);
    expect(pod.volume).toEqual([
      { name: "file-0", config_map: { name: WORKLOAD_IDENTITIES_CONFIGMAP, items: [{ key: "subjects", path: "file" }] } },
    ]);
  });
});

describe("the tracking server's guard admits the same workload subjects as the proxy", () => {
  const config = envConfig("dev", TRAINING);
  const json = synthJson(config);
  it("names exactly the pipeline's subject (and nothing where training is off)", () => {
    const envOf = (j: TfJson) => {
      const d = Object.values(resourcesOf(j, "kubernetes_deployment_v1")).find((x: any) => x.metadata.name === "mlflow-tracking") as any;
      return Object.fromEntries(d.spec.template.spec.container[0].env.map((e: any) => [e.name, e.value]));
    };
    expect(envOf(json).MLFLOW_PLATFORM_WORKLOAD_IDENTITIES).toBe(trainingSubject(config));
    expect(envOf(synthJson(envConfig("dev"))).MLFLOW_PLATFORM_WORKLOAD_IDENTITIES).toBeUndefined();
  });
});

describe("training with teams: the pipeline works in its team's workspace", () => {
  const teams = {
    teams: [
      { name: "team-a", groups: ["team-a-ds"] },
      { name: "team-b", groups: ["team-b-ds"], workspace: "forecasting", defaultPermission: "READ" as const },
    ],
    access: { platformAdminsGroup: "platform-admins" },
  };
  const config = envConfig("dev", deepMerge(TRAINING, { ...teams, training: { team: "team-b" } }));
  const json = synthJson(config);
  const [wt] = pipelineResources(json);
  const policy = JSON.parse(configMap(json, accessPolicyConfigMapName("mlflow-tracking")).data["policy.json"]);

  it("every step's container names the team's workspace in MLFLOW_WORKSPACE, which MLflow's client sends with each request", () => {
    const stepTemplates = wt.spec.templates.slice(1);
    expect(stepTemplates.map((t: any) => t.name)).toEqual(trainingStepCommands(config).map((s) => s.step));
    for (const t of stepTemplates) {
      expect(t.container.env.filter((e: any) => e.name === MLFLOW_WORKSPACE_ENV)).toEqual([
        { name: MLFLOW_WORKSPACE_ENV, value: "forecasting" },
      ]);
    }
  });

  it("the policy gives the pipeline's subject EDIT in that workspace and no role anywhere else", () => {
    const subject = trainingSubject(config);
    expect(policy.roles.filter((r: any) => r.identities.includes(subject))).toEqual([
      { name: "platform.team-b.pipeline", workspace: "forecasting", permission: "EDIT", groups: [], identities: [subject] },
    ]);
  });

  it("names no workspace without teams (MLflow's default workspace, as before)", () => {
    const [plain] = pipelineResources(synthJson(envConfig("dev", TRAINING)));
    for (const t of plain.spec.templates.slice(1)) expect(t.container.env.map((e: any) => e.name)).not.toContain(MLFLOW_WORKSPACE_ENV);
  });
});

describe("training off", () => {
  const config = envConfig("dev");
  const json = synthJson(config);
  it("creates nothing of the pipeline and leaves the proxy as it was", () => {
    expect(Object.keys(releases(json)).filter((k) => k.startsWith("training"))).toEqual([]);
    const cmd = proxyCommandOf(config);
    expect(cmd.env.map((e) => e.name)).not.toContain("OAUTH2_PROXY_AUTHENTICATED_EMAILS_FILE");
    expect(cmd.files).toBeUndefined();
  });
});

describe("the construct's own checks", () => {
  const config = envConfig("dev", TRAINING);
  const props = trainingProps(config, "mlflow-dev", {
    artifactStore: {
      bucketName: "b",
      bucketArn: "arn:aws:s3:::b",
      destinationUri: "s3://b/p",
      kmsKeyArn: "arn:aws:kms:eu-west-1:111111111111:key/x",
    },
  });
  const build = (patch: object) => () => new Training(new TerraformStack(Testing.app(), "s"), "training", { ...props, ...patch });
  it("refuses a step without resources, a bad schedule, an unsafe audience", () => {
    expect(build({ resources: { ...props.resources, tag: undefined } })).toThrow(
      /training: resources\.tag is unset: expected the step's requests and limits/,
    );
    expect(build({ schedule: "daily" })).toThrow(/training: schedule is .*: expected a five-field cron schedule/);
    expect(build({ tokenAudience: "sts.amazonaws.com" })).toThrow(/training: tokenAudience is .*: expected a dedicated audience/);
  });
});

describe.each(SHIPPED)("training in %s (whatever config/environments.ts says)", (env) => {
  const config = configured(env);
  it("when enabled: every step has resources and every config parameter is an MLproject parameter of train", () => {
    if (!config.training.enabled) return expect(Object.keys(releases(synthJson(config))).some((k) => k.startsWith("training"))).toBe(false);
    const mlproject = fs.readFileSync(path.join(ROOT, "examples", "MLproject"), "utf8");
    const train = mlproject.slice(mlproject.indexOf("  train:"), mlproject.indexOf("  evaluate:"));
    for (const p of Object.keys(config.training.parameters)) expect(train).toMatch(new RegExp(`^\\s+${p}:`, "m"));
    const [wt] = pipelineResources(synthJson(config));
    for (const t of wt.spec.templates.slice(1)) expect(t.container.resources.requests).toBeDefined();
  });
});

describe("the training environment is pinned to the platform's MLflow", () => {
  const versions = new Set(SHIPPED.map((e) => configured(e).mlflow.version));
  it("examples/requirements.txt, python_env.yaml and images/training/Dockerfile name the same versions", () => {
    expect(versions.size).toBe(1);
    const [v] = [...versions];
    const reqs = fs.readFileSync(path.join(ROOT, "examples", "requirements.txt"), "utf8");
    expect(reqs).toMatch(new RegExp(`^mlflow==${v.replace(/\./g, "\\.")}$`, "m"));
    for (const line of reqs.split("\n").filter((l) => l.trim() && !l.startsWith("#")))
      expect(line).toMatch(/^[A-Za-z0-9_.-]+==[0-9][\w.]*$/);
    expect(fs.readFileSync(path.join(ROOT, "images", "training", "Dockerfile"), "utf8")).toMatch(
      new RegExp(`^ARG MLFLOW_VERSION=${v.replace(/\./g, "\\.")}$`, "m"),
    );
    expect(fs.readFileSync(path.join(ROOT, "examples", "python_env.yaml"), "utf8")).toMatch(/^python: "3\.11\.\d+"$/m);
  });
});
