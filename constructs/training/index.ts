/**
 * Training pipelines on Argo Workflows: one reusable construct with its own props.
 *
 * - Argo Workflows from the pinned argo-workflows chart (install mode), its server signed in through the
 *   platform's OIDC issuer (SSO is the only auth mode), restricted security contexts for its pods and
 *   the executor; or nothing of Argo's own (attach mode: one already runs).
 * - The workflow namespace (restricted Pod Security), two service accounts: the pods' own
 *   (`<name>`, no Kubernetes API token, a cloud identity for the artifact prefix: an IAM role made here, or the
 *   GKE or AKS identity the stack made, the projected MLflow token) and the executor's (`<name>-executor`, which
 *   may only create and patch workflowtaskresults).
 * - The artifact repository: the artifact bucket (S3, Cloud Storage) or container (Blob Storage) under its own
 *   prefix, through workload identity (no static keys), per namespace (the `artifact-repositories` ConfigMap Argo
 *   reads).
 * - The WorkflowTemplate (+ CronWorkflow with a schedule) via a local chart, so Argo's CRDs are never
 *   needed at plan time. Each step's container command comes from constructs/training/command.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { AssetType, TerraformAsset, Token, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { Release } from "@cdktf/provider-helm/lib/release";
import { cronProblem } from "../core/aws-limits";
import { DNS_LABEL } from "../core/names";
import { WorkloadRole, type WorkloadIdentityMode } from "../core/workload-role";
import {
  TRAINING_GATES_CONFIGMAP,
  TRAINING_GATES_KEY,
  TRAINING_GATES_PATH,
  TRAINING_TMP_DIR,
  TRAINING_TOKEN_DIR,
  type TrainingStepCommand,
} from "./command";
import type { EnvVar } from "../core/command-types";
import type { PodIdentityContract } from "../core/contracts";
import { PropError } from "../core/prop-error";
import { artifactAccess } from "../core/grants";
import { isS3KeyPrefix } from "../core/s3-prefix";
import { RESTRICTED_POD_SECURITY } from "../core/labels";

/** Where the argo-workflows chart is published (argoproj/argo-helm). */
export const ARGO_HELM_REPOSITORY = "https://argoproj.github.io/argo-helm";
/** The name of the artifact-repository ConfigMap Argo reads in a workflow's namespace. */
export const ARTIFACT_REPOSITORIES_CONFIGMAP = "artifact-repositories";

export interface StepResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly memory: string; readonly cpu?: string };
}

/** Argo Workflows itself, when the stack installs it. */
export interface ArgoInstallProps {
  /** Namespace of the controller and the server (created). Required. */
  readonly namespace: string;
  /** The argo-workflows chart version (exact). Required. */
  readonly chartVersion: string;
  /** Chart repository. @default {@link ARGO_HELM_REPOSITORY} */
  readonly repository?: string;
  /** SSO of the Argo server: the platform's issuer and a client whose id and secret are in `secretName`. Required. */
  readonly sso: {
    readonly issuerUrl: string;
    /** Secret in `namespace` with keys client-id and client-secret (created outside the stack). */
    readonly secretName: string;
    /** `https://<uiHostname>/oauth2/callback`; required by Argo's SSO. */
    readonly redirectUrl: string;
    /** Scopes requested besides openid. @default ["email", "profile", "groups"] */
    readonly scopes?: readonly string[];
  };
}

/** Argo's artifact repository on S3: the bucket, its ARN and key, its region and the prefix Argo writes under. */
export interface S3TrainingArtifacts {
  readonly kind?: "s3";
  readonly bucketName: string;
  readonly bucketArn: string;
  readonly kmsKeyArn: string;
  readonly region: string;
  readonly prefix: string;
}

/** Argo's artifact repository in a Cloud Storage bucket, under `prefix`; the pods' Google identity writes there. */
export interface GcsTrainingArtifacts {
  readonly kind: "gcs";
  readonly bucketName: string;
  readonly prefix: string;
}

/** Argo's artifact repository in a Blob Storage container, under `prefix`; the pods' managed identity writes there. */
export interface AzureBlobTrainingArtifacts {
  readonly kind: "azure";
  /** The storage account's blob endpoint, `https://<account>.blob.core.windows.net`. */
  readonly endpoint: string;
  readonly container: string;
  readonly prefix: string;
}

export type TrainingArtifacts = S3TrainingArtifacts | GcsTrainingArtifacts | AzureBlobTrainingArtifacts;

/** The IAM role the construct makes for the pods' service account (IRSA or EKS Pod Identity). */
export interface AwsTrainingIdentity {
  readonly mode: WorkloadIdentityMode;
  readonly clusterName: string;
  readonly accountId: string;
  readonly region: string;
  readonly roleName: string;
  readonly oidcProviderArn?: string;
}

const isPodIdentity = (i: AwsTrainingIdentity | PodIdentityContract): i is PodIdentityContract => "serviceAccountAnnotations" in i;

/** The blob endpoint of a storage account, as Argo's `azure.endpoint` takes it. */
const BLOB_ENDPOINT = /^https:\/\/[a-z0-9]{3,24}\.blob\.core\.windows\.net$/;

/**
 * The `artifact-repositories` entry Argo reads (docs/configure-artifact-repository.md of argoproj/argo-workflows,
 * and its ArtifactRepository type in pkg/apis/workflow/v1alpha1): `s3` with `useSDKCreds` (the AWS SDK's chain:
 * IRSA or Pod Identity); `gcs` with `keyFormat` and no `serviceAccountKeySecret` ("If it's running on GKE and
 * Workload Identity is used, serviceAccountKeySecret is not needed"); `azure` with `endpoint`, `container`,
 * `blobNameFormat` and `useSDKCreds: true` (the accountKeySecret is then unused and a DefaultAzureCredential,
 * which reads workload identity's environment, authenticates). No static key in any of them.
 */
function artifactRepository(a: TrainingArtifacts): string[] {
  const key = `"${a.prefix}/{{workflow.name}}/{{pod.name}}"`;
  if (a.kind === "gcs") return ["gcs:", `  bucket: ${a.bucketName}`, `  keyFormat: ${key}`];
  if (a.kind === "azure")
    return ["azure:", `  endpoint: ${a.endpoint}`, `  container: ${a.container}`, "  useSDKCreds: true", `  blobNameFormat: ${key}`];
  return [
    "s3:",
    `  bucket: ${a.bucketName}`,
    "  endpoint: s3.amazonaws.com",
    `  region: ${a.region}`,
    "  useSDKCreds: true",
    `  keyFormat: ${key}`,
  ];
}

/** Props of {@link Training}. */
export interface TrainingProps {
  /** Namespace of the workflows (created, restricted Pod Security). Required. */
  readonly namespace: string;
  /** Base name of the service accounts, role, WorkflowTemplate and CronWorkflow. @default "training-pipeline" */
  readonly name?: string;
  /** Labels of every object. @default {} */
  readonly labels?: Record<string, string>;
  /** Install Argo Workflows; without it one must already run and watch `namespace`. @default undefined (attach) */
  readonly argo?: ArgoInstallProps;
  /** The steps, in order, from trainingStepCommands(). Required (at least one). */
  readonly steps: readonly TrainingStepCommand[];
  /** Resources per step (every step needs them). Required. */
  readonly resources: Readonly<Record<string, StepResources>>;
  /** Workflow parameters and their defaults. @default {} */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Cron schedule (UTC) of the CronWorkflow; none without it. @default undefined */
  readonly schedule?: string;
  /** Audience of the projected service-account token the steps present to MLflow. Required. */
  readonly tokenAudience: string;
  /** Deadline of each step; the token lives as long. @default 7200 */
  readonly stepDeadlineSeconds?: number;
  /** The registry gates the gates step reads (JSON, rendered from configuration). Required. */
  readonly gatesJson: string;
  /** The training image's user id. @default 10001 */
  readonly runAsUser?: number;
  /**
   * Argo's artifact repository (the steps' archived logs), under its own prefix: S3 (the bucket, its region and key),
   * a Cloud Storage bucket or a Blob Storage container. Required.
   */
  readonly artifacts: TrainingArtifacts;
  /**
   * Identity of the pods' service account: an IAM role this construct makes (AWS), or a cloud identity the stack
   * made for the service account `<name>` in `namespace` (GKE or AKS workload identity). Required.
   */
  readonly identity: AwsTrainingIdentity | PodIdentityContract;
  /** What must exist first. @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

/** Finds the local chart from the TypeScript sources and from the compiled dist/ tree. */
function chartDirectory(): string {
  const candidates = [path.join(__dirname, "chart"), path.join(__dirname, "..", "..", "..", "constructs", "training", "chart")];
  const found = candidates.find((c) => fs.existsSync(path.join(c, "Chart.yaml")));
  if (!found) throw new Error(`Training: the local chart was not found (looked in ${candidates.join(", ")})`);
  return found;
}

const restrictedContainer = (uid: number) => ({
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: uid,
  runAsGroup: uid,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
});

function argoEnv(e: EnvVar): Record<string, unknown> {
  if ("value" in e) return { name: e.name, value: e.value };
  if ("secretKeyRef" in e) return { name: e.name, valueFrom: { secretKeyRef: { ...e.secretKeyRef } } };
  if ("configMapKeyRef" in e) return { name: e.name, valueFrom: { configMapKeyRef: { ...e.configMapKeyRef } } };
  return { name: e.name, valueFrom: { fieldRef: { ...e.fieldRef } } };
}

/** Labels of every training step's pod (the WorkflowTemplate's podMetadata). */
export const TRAINING_STEP_POD_LABELS: Readonly<Record<string, string>> = {
  "app.kubernetes.io/component": "training-step",
  "app.kubernetes.io/part-of": "mlflow-training",
};

/** Argo Workflows (optional), the workflow namespace and identities, and the training pipeline. */
export class Training extends Construct {
  readonly namespace: NamespaceV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly executorServiceAccount: ServiceAccountV1;
  /** The pods' IAM role, when the identity is AWS's (otherwise the stack made the identity). */
  readonly role?: WorkloadRole;
  readonly argoRelease?: Release;
  /** Argo's own namespace, when this construct installs Argo Workflows. */
  readonly argoNamespace?: NamespaceV1;
  readonly pipelineRelease: Release;
  /** The WorkflowTemplate and CronWorkflow as shipped (the local chart's values). */
  readonly resources: Record<string, unknown>[];
  /** The WorkflowTemplate alone. */
  readonly workflowTemplate: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: TrainingProps) {
    super(scope, id);
    const name = props.name ?? "training-pipeline";
    const ns = props.namespace;
    if (!DNS_LABEL.test(ns)) throw new PropError(this, "namespace", ns, `a DNS label`);
    if (!DNS_LABEL.test(name) || name.length > 50) throw new PropError(this, "name", name, `a DNS label of at most 50 characters`);
    if (props.steps.length === 0) throw new PropError(this, "steps", props.steps, "at least one step");
    for (const s of props.steps) {
      if (!props.resources[s.step])
        throw new PropError(
          this,
          `resources.${s.step}`,
          props.resources[s.step],
          "the step's requests and limits (every step is its own pod; none runs unbounded)",
        );
    }
    if (props.schedule !== undefined) {
      const p = cronProblem(props.schedule);
      if (p) throw new PropError(this, "schedule", props.schedule, `${p}`);
    }
    const deadline = props.stepDeadlineSeconds ?? 7200;
    if (!Number.isInteger(deadline) || deadline < 600 || deadline > 86400) {
      throw new PropError(
        this,
        "stepDeadlineSeconds",
        deadline,
        `a whole number of seconds from 600 to 86400 (Kubernetes' shortest projected token lives 10 minutes)`,
      );
    }
    if (
      !/^[a-z0-9][a-z0-9.:-]{2,99}$/.test(props.tokenAudience) ||
      ["sts.amazonaws.com", "https://kubernetes.default.svc"].includes(props.tokenAudience)
    ) {
      throw new PropError(
        this,
        "tokenAudience",
        props.tokenAudience,
        `a dedicated audience such as "mlflow-pipelines" (not the API server's nor STS's)`,
      );
    }
    if (!isS3KeyPrefix(props.artifacts.prefix)) {
      throw new PropError(this, "artifacts.prefix", props.artifacts.prefix, `an S3 key prefix without leading or trailing '/'`);
    }
    const art = props.artifacts;
    if (art.kind === "azure" && !Token.isUnresolved(art.endpoint) && !BLOB_ENDPOINT.test(art.endpoint))
      throw new PropError(
        this,
        "artifacts.endpoint",
        art.endpoint,
        "a storage account's blob endpoint, https://<account>.blob.core.windows.net",
      );
    const uid = props.runAsUser ?? 10001;
    const labels = { "app.kubernetes.io/name": name, "app.kubernetes.io/component": "training", ...(props.labels ?? {}) };
    const dependsOn = props.dependsOn ?? [];

    this.namespace = new NamespaceV1(this, "namespace", {
      metadata: {
        name: ns,
        labels: {
          ...labels,
          ...RESTRICTED_POD_SECURITY,
        },
      },
      dependsOn,
    });
    const after = [this.namespace];

    // ── Identities: the pods' (IAM role, MLflow token) and the executor's (workflowtaskresults only) ──
    const identity = props.identity;
    const aws = isPodIdentity(identity) ? undefined : identity;
    if (aws) {
      if (art.kind === "gcs" || art.kind === "azure")
        throw new PropError(this, "artifacts", art.kind, "an S3 artifact repository with an AWS identity (the IAM role grants on S3 only)");
      this.role = new WorkloadRole(this, "role", {
        mode: aws.mode,
        clusterName: aws.clusterName,
        namespace: ns,
        serviceAccountName: name,
        roleName: aws.roleName,
        description: `Training workflows (${ns}/${name} on ${aws.clusterName}): Argo's artifact prefix only`,
        accountId: aws.accountId,
        region: aws.region,
        oidcProviderArn: aws.oidcProviderArn,
        checkPodIdentityAgent: false,
        inlinePolicies: [
          {
            name: "argo-artifact-prefix",
            document: {
              Version: "2012-10-17",
              Statement: artifactAccess(art, {
                prefix: art.prefix,
                list: true,
                read: true,
                write: true,
                region: art.region,
                sids: { list: "ListArgoPrefix", objects: "ReadWriteArgoArtifacts", key: "UseArtifactKeyThroughS3" },
              }),
            },
          },
        ],
      });
    } else if (art.kind === undefined || art.kind === "s3") {
      throw new PropError(this, "identity", "a pod identity", "an AWS identity (an IAM role) with an S3 artifact repository");
    }
    const saAnnotations = this.role?.serviceAccountAnnotations ?? (identity as PodIdentityContract).serviceAccountAnnotations;
    this.serviceAccount = new ServiceAccountV1(this, "service_account", {
      metadata: {
        name,
        namespace: ns,
        labels,
        annotations: Object.keys(saAnnotations).length ? { ...saAnnotations } : undefined,
      },
      automountServiceAccountToken: false,
      dependsOn: after,
    });
    const executor = `${name}-executor`;
    this.executorServiceAccount = new ServiceAccountV1(this, "executor_service_account", {
      metadata: { name: executor, namespace: ns, labels },
      automountServiceAccountToken: false,
      dependsOn: after,
    });
    const role = new RoleV1(this, "executor_role", {
      metadata: { name: executor, namespace: ns, labels },
      // What Argo's executor (emissary) needs to report a step's outputs, nothing else.
      rule: [{ apiGroups: ["argoproj.io"], resources: ["workflowtaskresults"], verbs: ["create", "patch"] }],
      dependsOn: after,
    });
    new RoleBindingV1(this, "executor_role_binding", {
      metadata: { name: executor, namespace: ns, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
      subject: [{ kind: "ServiceAccount", name: executor, namespace: ns }],
      dependsOn: after,
    });

    // ── Argo's artifact repository for this namespace: the bucket under its own prefix, SDK credentials ──
    new ConfigMapV1(this, "artifact_repositories", {
      metadata: {
        name: ARTIFACT_REPOSITORIES_CONFIGMAP,
        namespace: ns,
        labels,
        annotations: { "workflows.argoproj.io/default-artifact-repository": "default" },
      },
      data: {
        default: ["archiveLogs: true", ...artifactRepository(art), ""].join("\n"),
      },
      dependsOn: after,
    });
    new ConfigMapV1(this, "gates", {
      metadata: { name: TRAINING_GATES_CONFIGMAP, namespace: ns, labels },
      data: { [TRAINING_GATES_KEY]: props.gatesJson },
      dependsOn: after,
    });

    // ── Argo Workflows itself (install mode) ──
    if (props.argo) {
      const a = props.argo;
      if (!DNS_LABEL.test(a.namespace)) throw new PropError(this, "argo.namespace", a.namespace, `a DNS label`);
      if (a.namespace === ns)
        throw new PropError(
          this,
          "argo.namespace",
          a.namespace,
          `a namespace other than namespace ("${ns}"): the controller and server are not workflow pods`,
        );
      if (!/^\d+\.\d+\.\d+$/.test(a.chartVersion))
        throw new PropError(this, "argo.chartVersion", a.chartVersion, `an exact chart version such as "0.45.27"`);
      if (!/^https:\/\//.test(a.sso.redirectUrl))
        throw new PropError(this, "argo.sso.redirectUrl", a.sso.redirectUrl, `https://<argo UI hostname>/oauth2/callback`);
      const argoNs = (this.argoNamespace = new NamespaceV1(this, "argo_namespace", {
        metadata: { name: a.namespace, labels: { ...labels, "app.kubernetes.io/component": "argo-workflows", ...RESTRICTED_POD_SECURITY } },
        dependsOn,
      }));
      const podSecurity = { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } };
      const containerSecurity = {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      };
      const values = {
        crds: { install: true, keep: true },
        // The chart's cluster-wide controller; workflowNamespaces only names where the chart would create
        // workflow RBAC, which is off (this construct creates the pipeline's own, least-privileged).
        singleNamespace: false,
        controller: {
          workflowNamespaces: [ns],
          podSecurityContext: podSecurity,
          securityContext: containerSecurity,
          rbac: { accessAllSecrets: false, writeConfigMaps: false },
          // No workflow without a deadline, and pods without the restricted context are refused by the namespace anyway.
          workflowDefaults: { spec: { activeDeadlineSeconds: deadline * Math.max(props.steps.length, 1) } },
        },
        workflow: { serviceAccount: { create: false }, rbac: { create: false } },
        executor: { securityContext: containerSecurity },
        mainContainer: { securityContext: containerSecurity },
        server: {
          // Signed in through the platform's issuer only: no "server" (anonymous) or "client" (bearer kubeconfig) mode.
          authModes: ["sso"],
          podSecurityContext: podSecurity,
          securityContext: containerSecurity,
          sso: {
            enabled: true,
            issuer: a.sso.issuerUrl,
            clientId: { name: a.sso.secretName, key: "client-id" },
            clientSecret: { name: a.sso.secretName, key: "client-secret" },
            redirectUrl: a.sso.redirectUrl,
            scopes: [...(a.sso.scopes ?? ["email", "profile", "groups"])],
            rbac: { enabled: false },
            sessionExpiry: "8h",
          },
        },
        useStaticCredentials: false,
      };
      this.argoRelease = new Release(this, "argo_workflows", {
        name: "argo-workflows",
        namespace: a.namespace,
        repository: a.repository ?? ARGO_HELM_REPOSITORY,
        chart: "argo-workflows",
        version: a.chartVersion,
        values: [JSON.stringify(values)],
        atomic: true,
        cleanupOnFail: true,
        wait: true,
        timeout: 600,
        maxHistory: 5,
        dependsOn: [argoNs],
      });
    }

    // ── The pipeline: a WorkflowTemplate (and a CronWorkflow) ──
    const params = props.parameters ?? {};
    const templates = props.steps.map((s) => {
      const c = s.command;
      const mounts = [
        { name: "mlflow-token", mountPath: TRAINING_TOKEN_DIR, readOnly: true },
        { name: "tmp", mountPath: TRAINING_TMP_DIR },
        ...(s.command.args.includes(TRAINING_GATES_PATH)
          ? [{ name: "gates", mountPath: path.posix.dirname(TRAINING_GATES_PATH), readOnly: true }]
          : []),
      ];
      const r = props.resources[s.step];
      return {
        name: s.step,
        // The step's pod carries these: the namespace's NetworkPolicy admits their egress (and nothing
        // else's). Per template, not spec.podMetadata: argo lint 3.7.3 panics on spec.podMetadata when a
        // step names a missing template.
        // Azure workload identity's webhook injects the credentials only into pods carrying its label.
        metadata: { labels: { ...TRAINING_STEP_POD_LABELS, ...(isPodIdentity(identity) ? (identity.podLabels ?? {}) : {}) } },
        ...(s.inputs.length ? { inputs: { parameters: s.inputs.map((p) => ({ name: p })) } } : {}),
        ...(Object.keys(s.outputs).length
          ? { outputs: { parameters: Object.entries(s.outputs).map(([p, file]) => ({ name: p, valueFrom: { path: file } })) } }
          : {}),
        activeDeadlineSeconds: deadline,
        retryStrategy: { limit: 1, retryPolicy: "OnError" },
        container: {
          image: c.image,
          imagePullPolicy: "IfNotPresent",
          command: [...c.command],
          args: [...c.args],
          env: c.env.map(argoEnv),
          workingDir: TRAINING_TMP_DIR,
          resources: { requests: { ...r.requests }, limits: { memory: r.limits.memory, ...(r.limits.cpu ? { cpu: r.limits.cpu } : {}) } },
          securityContext: restrictedContainer(uid),
          volumeMounts: mounts,
        },
      };
    });
    const steps = props.steps.map((s, i) => {
      const earlier = props.steps.slice(0, i);
      const args = s.inputs.map((input) => {
        const from = [...earlier].reverse().find((e) => input in e.outputs);
        if (!from)
          throw new PropError(
            this,
            "steps",
            s.step,
            `steps whose inputs an earlier step outputs: "${s.step}" needs "${input}", which none does`,
          );
        return { name: input, value: `{{steps.${from!.step}.outputs.parameters.${input}}}` };
      });
      return [{ name: s.step, template: s.step, ...(args.length ? { arguments: { parameters: args } } : {}) }];
    });
    this.workflowTemplate = {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "WorkflowTemplate",
      metadata: { name, namespace: ns, labels },
      spec: {
        entrypoint: "pipeline",
        serviceAccountName: name,
        // The steps get no Kubernetes API token; Argo's executor gets its own, with workflowtaskresults only.
        automountServiceAccountToken: false,
        executor: { serviceAccountName: executor },
        arguments: { parameters: Object.entries(params).map(([k, v]) => ({ name: k, value: v })) },
        activeDeadlineSeconds: deadline * props.steps.length,
        ttlStrategy: { secondsAfterCompletion: 7 * 24 * 3600 },
        podGC: { strategy: "OnWorkflowSuccess" },
        securityContext: { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: "RuntimeDefault" } },
        volumes: [
          // The steps' identity towards MLflow: a short-lived token of this service account, for MLflow only.
          {
            name: "mlflow-token",
            projected: {
              sources: [{ serviceAccountToken: { audience: props.tokenAudience, expirationSeconds: deadline, path: "token" } }],
            },
          },
          { name: "tmp", emptyDir: { sizeLimit: "2Gi" } },
          { name: "gates", configMap: { name: TRAINING_GATES_CONFIGMAP } },
        ],
        templates: [{ name: "pipeline", steps }, ...templates],
      },
    };
    this.resources = [this.workflowTemplate];
    if (props.schedule !== undefined) {
      this.resources.push({
        apiVersion: "argoproj.io/v1alpha1",
        kind: "CronWorkflow",
        metadata: { name: `${name}-scheduled`, namespace: ns, labels },
        spec: {
          schedules: [props.schedule],
          timezone: "Etc/UTC",
          concurrencyPolicy: "Forbid",
          startingDeadlineSeconds: 3600,
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          workflowSpec: { workflowTemplateRef: { name } },
        },
      });
    }
    const chart = new TerraformAsset(this, "chart", { path: chartDirectory(), type: AssetType.DIRECTORY });
    this.pipelineRelease = new Release(this, "pipeline", {
      name: `${name}-resources`.slice(0, 53),
      namespace: ns,
      chart: `./${chart.path}`,
      values: [JSON.stringify({ resources: this.resources })],
      atomic: true,
      cleanupOnFail: true,
      maxHistory: 5,
      // Argo's CRDs come with its release (install mode); the objects reference these.
      dependsOn: [
        this.serviceAccount,
        this.executorServiceAccount,
        ...(this.role?.readyWith ?? []),
        ...(this.argoRelease ? [this.argoRelease] : []),
      ],
    });
  }
}
