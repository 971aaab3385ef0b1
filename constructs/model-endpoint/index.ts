/**
 * One registered model served as a REST microservice: `mlflow-platform serve` in an image
 * built by `mlflow-platform serve build-context` from `models:/<name>/<version>`, pinned by digest.
 *
 * Creates:
 * - an ECR repository for the model's images: immutable tags, scan on push, encrypted with a
 *   customer-managed KMS key, a lifecycle policy keeping the last `keepImages` unreleased (untagged)
 *   images and never touching a released one (./ecr-rules.ts); and the IAM policy a release pipeline
 *   needs to push to this repository, and read the scan of what it pushed, and nothing else;
 * - when a release is given (version + image digest), in the given namespace (restricted Pod Security):
 *   a ServiceAccount without API token, a Deployment running the image by digest with the restricted
 *   security context, read-only root filesystem, readiness on `/ping` (true once the model is loaded);
 *   a ClusterIP Service; a HorizontalPodAutoscaler; a PodDisruptionBudget; a NetworkPolicy admitting
 *   only the gateway path and Prometheus, with all egress denied; a ServiceMonitor (through a local
 *   chart, so the Prometheus Operator's CRDs are never needed at plan time).
 *
 * The pods get no AWS identity: the model is inside the image and the server calls nothing. That is the
 * least privilege there is; the node role pulls the image (ECR read on the repository).
 *
 * The container command is `modelServerCommand` (constructs/model-endpoint/server-command.ts), the value the
 * end-to-end harness runs for real.
 */
import { PropError } from "../core/prop-error";
import * as fs from "fs";
import * as path from "path";
import { AssetType, TerraformAsset, Token, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { EcrLifecyclePolicy } from "@cdktf/provider-aws/lib/ecr-lifecycle-policy";
import { EcrRepository } from "@cdktf/provider-aws/lib/ecr-repository";
import { EcrRepositoryPolicy } from "@cdktf/provider-aws/lib/ecr-repository-policy";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { Release } from "@cdktf/provider-helm/lib/release";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { HorizontalPodAutoscalerV2 } from "@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Bytes } from "@cdktf/provider-random/lib/bytes";
import {
  BODY_TIMEOUT_SECONDS,
  DRAIN_SECONDS,
  GRACEFUL_SHUTDOWN_SECONDS,
  MAX_UPLOADS_PER_CALLER,
  LIVE_PATH,
  METRICS_PATH,
  MODEL_SERVER_METRICS_PORT,
  MODEL_SERVER_METRICS_PORT_NAME,
  MODEL_SERVER_PORT,
  MODEL_SERVER_PORT_NAME,
  READY_PATH,
  TMP_DIR,
  modelServerCommand,
  type ModelServerIdentity,
} from "./server-command";
import { SMOKE_TEST_CALLER, smokeTestCommand } from "./smoke-test-command";
import { rolloutObjects, smokeTestPodLabels, type DeliveryStrategy, type ModelDelivery } from "./delivery";
import type { ImageRepositoryContract, ServiceContract } from "../core/contracts";
import type { ContainerCommand } from "../core/command-types";
import { DNS_LABEL } from "../core/names";
import { WorkloadRole } from "../core/workload-role";
import { lifecyclePolicyProblems, lifecycleRules } from "../core/ecr-rules";
import {
  type AnyInferenceLog,
  isObjectStoreLog,
  objectStoreLogEgress,
  objectStoreLogProblems,
  inferenceLogProblems,
  inferenceLogRolePolicy,
  inferenceLogEgress,
  INFERENCE_LOG_SECRET_KEY,
} from "./inference-log";
import { stackKeyPolicy } from "../core/kms-key-policy";
import {
  PROMETHEUS_OPERATOR_POD_LABELS,
  containerResources,
  httpGetProbe,
  labelSelectorProblem,
  prometheusPeer,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  toK8sEnv,
  topologySpread,
} from "../core/pod-spec";
import { labelValue, managedLabels, podSelectorLabels } from "../core/labels";

/** An IAM role's ARN (a repository policy's puller). */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,64}$/;

/** The released version of the model and the digest of its image. */
export interface ModelRelease {
  /** Registered model version the image was built from (digits). Required. */
  readonly version: string;
  /** Digest of the pushed image, `sha256:<64 hex>`. Required. */
  readonly imageDigest: string;
}

/** The server's limits (`mlflow-platform serve` flags). */
export interface ModelServerLimits {
  /** Requests one pod works on at once; more get 429 with Retry-After. @default 8 */
  readonly maxConcurrency?: number;
  /** Largest request body in bytes; larger gets 413. @default 1048576 */
  readonly maxBodyBytes?: number;
  /** Requests per second per caller, per pod, on average. @default 50 */
  readonly callerRate?: number;
  /** Burst per caller, per pod. @default 100 */
  readonly callerBurst?: number;
  /** Deadline of a request body and of a prediction, in seconds. @default 30 */
  readonly requestTimeoutSeconds?: number;
  /** Seconds a request body gets to arrive (408 after); no prediction slot is held meanwhile. @default 10 */
  readonly bodyTimeoutSeconds?: number;
  /** Request bodies one caller may be sending at once, per pod (429 beyond). @default 8 */
  readonly maxUploadsPerCaller?: number;
  /** Class names in the model's order; `/predict` then answers labels too. @default [] */
  readonly classNames?: readonly string[];
}

/** Props of {@link ModelEndpoint}. */
export interface ModelEndpointProps {
  /** Registered model name: lower-case letters, digits and '-', at most 40 characters. Required. */
  readonly modelName: string;
  /** Prefix of resource names (e.g. `mlflow-dev`): the repository is `<prefix>/<modelName>`. Required. */
  readonly namePrefix: string;
  /** Namespace of the model server (must exist, with restricted Pod Security). Required. */
  readonly namespace: string;
  /** The released version and image digest. Without it only the ECR repository is created. @default none */
  readonly release?: ModelRelease;
  /**
   * The model's image repository in a registry the stack already has (Artifact Registry, Azure Container
   * Registry), pulled by the nodes' own identity. With it no ECR repository, key or push policy is made, and the
   * repository's props (keepImages, expireTagPrefixes, kmsKeyArn, keyAdministratorArns, pullerRoleArns) are
   * refused: that registry's own settings decide.
   * @default a new ECR repository `<namePrefix>/<modelName>`
   */
  readonly imageRepository?: ImageRepositoryContract;
  /** Replica range; the HPA scales on CPU between them. @default { min: 2, max: 4 } */
  readonly replicas?: { readonly min: number; readonly max: number };
  /** Target average CPU utilisation of the HPA, in percent of the request. @default 70 */
  readonly targetCpuUtilizationPercent?: number;
  /** Container resources. @default requests 500m / 512Mi, memory limit 1Gi, no CPU limit */
  readonly resources?: {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly memory: string; readonly cpu?: string };
  };
  /** Limits of the server. @default see {@link ModelServerLimits} */
  readonly limits?: ModelServerLimits;
  /**
   * Header carrying the authenticated caller, which the gateway overwrites from the verified token. The
   * per-caller limit is keyed on it; it cannot be spoofed because only the gateway path reaches the pods.
   * @default "X-Caller-Id"
   */
  readonly callerHeader?: string;
  /**
   * Who may call: the allow-lists the server applies to the identity the gateway verified (caller and
   * groups headers, overwritten by the gateway from the token). Set it whenever a platform gateway
   * (ingress or API Gateway exposure) is in front: oauth2-proxy skips its domain check for a token
   * without an e-mail, and API Gateway's JWT authorizer checks no allow-list at all. The release's smoke
   * test is admitted by its own caller id.
   * @default none: any caller the NetworkPolicy admits (in-cluster peers set their own caller ids)
   */
  readonly identity?: Omit<ModelServerIdentity, "internalCallers">;
  /** Labels of in-cluster pods allowed to call the server (e.g. an authenticating proxy). @default none */
  readonly gatewayPodLabels?: Record<string, string>;
  /** Namespace of `gatewayPodLabels`. @default the endpoint's namespace */
  readonly gatewayNamespace?: string;
  /** Address ranges allowed to call the server (the internal load balancer's subnets). @default [] */
  readonly gatewayCidrs?: readonly string[];
  /** Namespace of the Prometheus that scrapes `/metrics`. @default "monitoring" */
  readonly monitoringNamespace?: string;
  /** Labels of the Prometheus pods that may scrape. @default { "app.kubernetes.io/name": "prometheus" } */
  readonly prometheusPodLabels?: Record<string, string>;
  /** Extra labels on the ServiceMonitor (for an existing Prometheus whose selector needs them). @default {} */
  readonly serviceMonitorLabels?: Record<string, string>;
  /** Unreleased images kept in the repository: untagged pushes (older ones expire; released images never do). @default 10 */
  readonly keepImages?: number;
  /** Other tag prefixes a team pushes, with how many images of each are kept; none may match a release tag. @default {} */
  readonly expireTagPrefixes?: Readonly<Record<string, number>>;
  /** KMS key encrypting the repository. @default a new key with rotation on */
  readonly kmsKeyArn?: string;
  /**
   * IAM roles that administer the repository's own key (when `kmsKeyArn` is not given) through its key
   * policy: the CI deploy role, of the key's account (constructs/core/kms-key-policy.ts).
   * @default [] (KMS's default key policy: the account's IAM policies decide)
   */
  readonly keyAdministratorArns?: readonly string[];
  /**
   * IAM roles of other environments that copy this repository's released images into their own (the
   * release pipeline's copy: their CI deploy roles, config/image-copies.ts). They get pull (BatchGetImage,
   * GetDownloadUrlForLayer) through a repository policy; their own identity policies must allow it too.
   * @default [] (no repository policy: only this account's IAM policies reach the repository)
   */
  readonly pullerRoleArns?: readonly string[];
  /** User and group id of the container (the image's `USER`). @default 10001 */
  readonly runAsUser?: number;
  /** Refuse to destroy the repository and its key (`prevent_destroy`): production. @default false */
  readonly preventDestroy?: boolean;
  /** Spread strictly across zones (`DoNotSchedule`). @default false */
  readonly strictZoneSpread?: boolean;
  /**
   * How a new release reaches traffic: an Argo Rollout (blueGreen or canary, with a smoke test and
   * analysis, rollback on failure; the controller must run in the cluster) or the Deployment's own
   * rolling update. See ./delivery.ts.
   * @default { strategy: "rollingUpdate" }
   */
  readonly delivery?: ModelDelivery;
  /** The smoke test's request: `{"data": row}`, and the label expected back. Required with a Rollout. @default none */
  readonly smokeTest?: { readonly row: readonly number[]; readonly expectLabel?: string };
  /**
   * Target group of the API Gateway exposure's internal load balancer: the chart then binds the Service to
   * it (TargetGroupBinding; the AWS Load Balancer Controller registers the pods). @default none
   */
  readonly targetGroupArn?: string;
  /** What every Kubernetes resource waits for (the namespace). @default [] */
  readonly dependsOn?: ITerraformDependable[];
  /** Names of the model's input features, in order (records, metrics and drift name features by them). @default [] */
  readonly inputFields?: readonly string[];
  /**
   * Input/output logging with obfuscation. Into S3 (`ModelEndpointInferenceLog`), the server gets an IAM role
   * that may only PutObject under `<prefix>/model=<modelName>/`, and egress to DNS, the Pod Identity agent and
   * HTTPS. Into another cloud's store (`ObjectStoreInferenceLog`), the server runs with the identity the stack
   * made for it, and egress to DNS and the flows given. Both get a generated HMAC key (Secret).
   * @default none: nothing is logged, no cloud identity, no egress
   */
  readonly inferenceLog?: AnyInferenceLog;
}

const MODEL_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

/** The name of one model's server objects: its Deployment, Service and service account (what a cloud identity binds to). */
export function modelServerName(namePrefix: string, modelName: string): string {
  return `${namePrefix}-${modelName}`;
}

/** The props that configure the ECR repository the endpoint makes (refused with an `imageRepository`). */
const ECR_REPOSITORY_PROPS = ["keepImages", "expireTagPrefixes", "kmsKeyArn", "keyAdministratorArns", "pullerRoleArns"] as const;

/** `<host>[:port]/<path>`: a repository, without tag or digest. */
const REPOSITORY_URL = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/;

/** Labels selecting one model's server pods (stable across versions: a Deployment's selector is immutable). */
export function modelServerPodLabels(namePrefix: string, modelName: string): Record<string, string> {
  return podSelectorLabels("model-server", labelValue(`${namePrefix}-${modelName}`), "model-server");
}

/** Finds the local chart from the TypeScript sources and from the compiled dist/ tree. */
function chartDirectory(): string {
  const candidates = [path.join(__dirname, "chart"), path.join(__dirname, "..", "..", "..", "constructs", "model-endpoint", "chart")];
  const found = candidates.find((c) => fs.existsSync(path.join(c, "Chart.yaml")));
  if (!found) throw new Error(`ModelEndpoint: the local chart was not found (looked in ${candidates.join(", ")})`);
  return found;
}

/** The props of a ModelEndpoint, checked, with their defaults applied. */
type Checked = ReturnType<ModelEndpoint["validate"]>;

/** What the sections of a released model's server share. */
interface Server {
  /** `<namePrefix>-<modelName>`: the name of its objects. */
  readonly name: string;
  readonly namespace: string;
  readonly release: ModelRelease;
  /** The image the pods run (`<repository url>@<digest>`). */
  readonly image: string;
  readonly log?: AnyInferenceLog;
  readonly dependsOn: ITerraformDependable[];
  /** The pods' selector, and the labels of every object. */
  readonly podLabels: Record<string, string>;
  readonly labels: Record<string, string>;
  /** User and group id of the container. */
  readonly uid: string;
  /** The preview Service's name (progressive releases). */
  readonly previewName: string;
  /** The smoke test's pod labels (progressive releases). */
  readonly smokeLabels: Record<string, string>;
}

export class ModelEndpoint extends Construct {
  /** The model's ECR repository (none with an `imageRepository`). */
  readonly repository?: EcrRepository;
  /** The policy a release pipeline's role needs to push this model's images, and nothing else (ECR only). */
  readonly pushPolicy?: IamPolicy;
  /** The image the pods run (`<repository url>@<digest>`), when released. */
  readonly image?: string;
  readonly deployment?: DeploymentV1;
  readonly service?: ServiceV1;
  readonly networkPolicy?: NetworkPolicyV1;
  readonly autoscaler?: HorizontalPodAutoscalerV2;
  readonly podDisruptionBudget?: PodDisruptionBudgetV1;
  readonly customResources?: Release;
  /** The Service selecting the new version's pods during a blue-green or canary release. */
  readonly previewService?: ServiceV1;
  /** The Argo Rollout's name (the Deployment's), when the strategy is blueGreen or canary. */
  readonly rolloutName?: string;
  /** The pre-promotion smoke test's command (also runnable by a pipeline against any URL). */
  readonly smokeCommand?: ContainerCommand;
  /** The objects of the local chart (ServiceMonitor), as shipped. */
  readonly resources: Record<string, unknown>[] = [];
  /** How clients, NetworkPolicies and monitoring reach the server, when released. */
  readonly contract?: ServiceContract;
  /** The IAM role of the server when it logs inputs and outputs (PutObject under its log prefix only). */
  readonly inferenceLogRole?: WorkloadRole;

  constructor(scope: Construct, id: string, props: ModelEndpointProps) {
    super(scope, id);
    const v = this.validate(props);
    const { modelName, namespace } = props;
    const name = modelServerName(props.namePrefix, modelName);
    let repositoryUrl: string;
    if (props.imageRepository) {
      repositoryUrl = props.imageRepository.repositoryUrl;
    } else {
      ({ repository: this.repository, pushPolicy: this.pushPolicy } = this.createRepository(props, v, name));
      repositoryUrl = this.repository.repositoryUrl;
    }
    const release = props.release;
    if (!release) return;

    // ── The server ──
    this.image = `${repositoryUrl}@${release.imageDigest}`;
    const podLabels = modelServerPodLabels(props.namePrefix, modelName);
    const c: Server = {
      name,
      namespace,
      release,
      image: this.image,
      log: props.inferenceLog,
      dependsOn: props.dependsOn ?? [],
      podLabels,
      labels: {
        ...podLabels,
        "app.kubernetes.io/version": release.version,
        ...managedLabels(props.namePrefix),
        "mlflow-platform/model": modelName,
      },
      uid: String(props.runAsUser ?? 10001),
      previewName: `${name}-preview`.slice(0, 63).replace(/-+$/, ""),
      smokeLabels: smokeTestPodLabels(`${props.namePrefix}-${modelName}`),
    };
    const { logSecret, inferenceLogRole } = this.createLogKeyAndRole(props, c);
    this.inferenceLogRole = inferenceLogRole;
    const cmd = this.serverCommand(props, v, c);
    this.deployment = this.createWorkload(props, v, c, cmd, logSecret);
    ({
      service: this.service,
      previewService: this.previewService,
      podDisruptionBudget: this.podDisruptionBudget,
      autoscaler: this.autoscaler,
    } = this.createServices(props, v, c, this.deployment));
    this.networkPolicy = this.createNetworkPolicy(props, v, c);
    if (v.progressive) {
      this.smokeCommand = this.createRollout(props, v, c);
      this.rolloutName = name;
    }
    this.customResources = this.createChart(props, v, c, {
      deployment: this.deployment,
      service: this.service,
      previewService: this.previewService,
    });
    this.contract = { namespace, serviceName: name, port: 80, portName: MODEL_SERVER_PORT_NAME, podLabels, serviceLabels: c.labels };
  }

  /** Fails (naming the field) on the first invalid prop; returns the props with their defaults applied. */
  private validate(props: ModelEndpointProps) {
    const { modelName, namespace } = props;
    if (!MODEL_NAME.test(modelName ?? ""))
      throw new PropError(this, "modelName", modelName, `lower-case letters, digits and '-' (at most 40)`);
    if (!Token.isUnresolved(namespace) && !DNS_LABEL.test(namespace ?? ""))
      throw new PropError(this, "namespace", namespace, `a DNS label`);
    if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(props.namePrefix ?? ""))
      throw new PropError(this, "namePrefix", props.namePrefix, `lower-case letters, digits and '-' (at most 41)`);
    const keep = props.keepImages ?? 10;
    if (!Number.isInteger(keep) || keep < 1 || keep > 1000) throw new PropError(this, "keepImages", keep, `a whole number from 1 to 1000`);
    const retention = lifecycleRules({ untagged: keep, tagPrefixes: props.expireTagPrefixes });
    const retentionProblems = lifecyclePolicyProblems(retention);
    if (retentionProblems.length > 0)
      throw new PropError(
        this,
        "expireTagPrefixes",
        props.expireTagPrefixes,
        `prefixes that make a lifecycle policy ECR accepts and that never expires a released image: ${retentionProblems.join("; ")}`,
      );
    const replicas = props.replicas ?? { min: 2, max: 4 };
    if (!Number.isInteger(replicas.min) || replicas.min < 1 || replicas.max < replicas.min) {
      throw new PropError(this, "replicas", replicas, "whole numbers with 1 <= min <= max");
    }
    const release = props.release;
    if (release && !/^[1-9]\d*$/.test(release.version))
      throw new PropError(this, "release.version", release.version, `a registered version number such as "3"`);
    if (release && !/^sha256:[a-f0-9]{64}$/.test(release.imageDigest))
      throw new PropError(this, "release.imageDigest", release.imageDigest, `"sha256:<64 hex>" (a digest, never a tag)`);
    const gatewayCidrs = props.gatewayCidrs ?? [];
    for (const c of gatewayCidrs) if (!CIDR.test(c)) throw new PropError(this, "gatewayCidrs", c, `IPv4 CIDRs such as "10.0.0.0/16"`);
    if (props.gatewayPodLabels) {
      const problem = labelSelectorProblem(props.gatewayPodLabels);
      if (problem) throw new PropError(this, "gatewayPodLabels", props.gatewayPodLabels, `labels of the calling pods: they ${problem}`);
    }
    if (release && gatewayCidrs.length === 0 && !props.gatewayPodLabels) {
      throw new PropError(
        this,
        "gatewayCidrs",
        gatewayCidrs,
        "CIDRs (or gatewayPodLabels) naming who may call the model (the NetworkPolicy admits nobody else), such as the internal load balancer's subnets",
      );
    }
    const prometheusPodLabels = props.prometheusPodLabels ?? PROMETHEUS_OPERATOR_POD_LABELS;
    const promProblem = labelSelectorProblem(prometheusPodLabels);
    if (promProblem)
      throw new PropError(this, "prometheusPodLabels", props.prometheusPodLabels, `the labels of the Prometheus pods: they ${promProblem}`);
    const limits = props.limits ?? {};
    const intIn = (v: number, min: number, max: number, field: string) => {
      if (!Number.isInteger(v) || v < min || v > max)
        throw new PropError(this, `limits.${field}`, v, `a whole number from ${min} to ${max}`);
      return v;
    };
    const maxConcurrency = intIn(limits.maxConcurrency ?? 8, 1, 256, "maxConcurrency");
    const maxBodyBytes = intIn(limits.maxBodyBytes ?? 1_048_576, 1024, 64 * 1024 * 1024, "maxBodyBytes");
    const callerBurst = intIn(limits.callerBurst ?? 100, 1, 100_000, "callerBurst");
    const requestTimeoutSeconds = intIn(limits.requestTimeoutSeconds ?? 30, 1, 300, "requestTimeoutSeconds");
    const bodyTimeoutSeconds = intIn(limits.bodyTimeoutSeconds ?? BODY_TIMEOUT_SECONDS, 1, 300, "bodyTimeoutSeconds");
    const maxUploadsPerCaller = intIn(limits.maxUploadsPerCaller ?? MAX_UPLOADS_PER_CALLER, 1, 1024, "maxUploadsPerCaller");
    const callerRate = limits.callerRate ?? 50;
    if (!(callerRate > 0)) throw new PropError(this, "limits.callerRate", callerRate, `> 0`);
    const callerHeader = props.callerHeader ?? "X-Caller-Id";
    const delivery = props.delivery ?? {};
    const strategy: DeliveryStrategy = delivery.strategy ?? "rollingUpdate";
    if (!["blueGreen", "canary", "rollingUpdate"].includes(strategy))
      throw new PropError(this, "delivery.strategy", strategy, `"blueGreen", "canary" or "rollingUpdate"`);
    const progressive = strategy !== "rollingUpdate";
    if (progressive && !/^https?:\/\/\S+$/.test(delivery.prometheusUrl ?? "")) {
      throw new PropError(
        this,
        "delivery.prometheusUrl",
        delivery.prometheusUrl ?? "",
        `the http(s) URL of the Prometheus the ${strategy} analysis queries`,
      );
    }
    if (progressive && release && !props.smokeTest)
      throw new PropError(
        this,
        "smokeTest",
        props.smokeTest,
        `the row the new version must answer before it gets traffic (required with the ${strategy} strategy)`,
      );
    const weights = delivery.canaryWeights ?? [25, 50];
    if (weights.length === 0 || weights.some((w, n) => !Number.isInteger(w) || w < 1 || w > 99 || (n > 0 && w <= weights[n - 1]))) {
      throw new PropError(this, "delivery.canaryWeights", JSON.stringify(weights), `increasing whole percentages from 1 to 99`);
    }
    if (!/^[A-Za-z0-9-]{1,64}$/.test(callerHeader)) throw new PropError(this, "callerHeader", callerHeader, `an HTTP header name`);

    const inputFields = props.inputFields ?? [];
    if (props.inferenceLog)
      for (const [prop, value, expected] of [
        ...inferenceLogProblems(props.inferenceLog, inputFields),
        ...(isObjectStoreLog(props.inferenceLog) ? objectStoreLogProblems(props.inferenceLog) : []),
      ])
        throw new PropError(this, prop, value, expected);
    if (props.imageRepository) {
      const url = props.imageRepository.repositoryUrl;
      if (!Token.isUnresolved(url) && !REPOSITORY_URL.test(url ?? ""))
        throw new PropError(this, "imageRepository.repositoryUrl", url, `"<registry host>/<path>" without tag or digest`);
      for (const prop of ECR_REPOSITORY_PROPS)
        if (props[prop] !== undefined)
          throw new PropError(this, prop, props[prop], `nothing with imageRepository: it configures the ECR repository, which is not made`);
    }
    const pullers = [...new Set(props.pullerRoleArns ?? [])].sort();
    for (const arn of pullers) if (!ROLE_ARN.test(arn)) throw new PropError(this, "pullerRoleArns", arn, `IAM role ARNs`);
    return {
      retention,
      replicas,
      gatewayCidrs,
      prometheusPodLabels,
      limits,
      maxConcurrency,
      maxBodyBytes,
      callerBurst,
      requestTimeoutSeconds,
      bodyTimeoutSeconds,
      maxUploadsPerCaller,
      callerRate,
      callerHeader,
      delivery,
      strategy,
      progressive,
      inputFields,
      pullers,
    };
  }

  /**
   * The image repository (always: the first image must be pushed before a release can name it), its key,
   * pull grants, lifecycle, and the policy a release pipeline pushes with.
   */
  private createRepository(props: ModelEndpointProps, v: Checked, name: string): { repository: EcrRepository; pushPolicy: IamPolicy } {
    const { modelName } = props;
    const { retention, pullers } = v;
    const kmsKeyArn =
      props.kmsKeyArn ??
      new KmsKey(this, "kms_key", {
        description: `ECR images of model ${modelName} (${props.namePrefix})`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        lifecycle: props.preventDestroy ? { preventDestroy: true } : undefined,
        policy: stackKeyPolicy({ administratorArns: props.keyAdministratorArns, scope: this }),
      }).arn;
    const repository = new EcrRepository(this, "repository", {
      name: `${props.namePrefix}/${modelName}`,
      imageTagMutability: "IMMUTABLE",
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: [{ encryptionType: "KMS", kmsKey: kmsKeyArn }],
      lifecycle: props.preventDestroy ? { preventDestroy: true } : undefined,
    });
    if (pullers.length > 0) {
      const partition = pullers[0].split(":")[1];
      new EcrRepositoryPolicy(this, "repository_policy", {
        repository: repository.name,
        policy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "ReleaseCopiesPull",
              Effect: "Allow",
              // Their accounts, narrowed to exactly the roles by aws:PrincipalArn: ECR refuses a policy naming a role
              // that does not exist yet ("Principal not found"), and each copying role is created by its own
              // account's bootstrap, possibly after this repository.
              Principal: {
                AWS: [...new Set(pullers.map((a) => a.split(":")[4]))].map((account) => `arn:${partition}:iam::${account}:root`),
              },
              Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
              Condition: { ArnEquals: { "aws:PrincipalArn": pullers } },
            },
          ],
        }),
      });
    }
    // Unreleased images expire by count; a release's tag (scripts/ci/release-tag.sh) is selected by no rule.
    new EcrLifecyclePolicy(this, "lifecycle", {
      repository: repository.name,
      policy: JSON.stringify({ rules: retention }),
    });
    const pushPolicy = new IamPolicy(this, "push_policy", {
      name: `${name}-image-push`.slice(0, 128),
      description: `Push images of model ${modelName} to its ECR repository, nothing else`,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          // GetAuthorizationToken has no resource-level permissions: AWS requires "*" here.
          { Sid: "EcrLogin", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
          {
            Sid: "PushThisModel",
            Effect: "Allow",
            Action: [
              "ecr:BatchCheckLayerAvailability",
              "ecr:InitiateLayerUpload",
              "ecr:UploadLayerPart",
              "ecr:CompleteLayerUpload",
              "ecr:PutImage",
              "ecr:BatchGetImage",
              "ecr:DescribeImages",
              // The scan gate: `aws ecr wait image-scan-complete` and the findings of the pushed digest.
              "ecr:DescribeImageScanFindings",
            ],
            Resource: repository.arn,
          },
          { Sid: "EncryptLayers", Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: kmsKeyArn },
        ],
      }),
    });
    return { repository, pushPolicy };
  }

  /** The server's HMAC key (a Secret) and, when it logs, its IAM role. */
  private createLogKeyAndRole(props: ModelEndpointProps, c: Server): { logSecret: SecretV1; inferenceLogRole?: WorkloadRole } {
    const { modelName, namespace } = props;
    const { name, log, dependsOn } = c;
    // 32 random bytes: the server's HMAC key. Caller ids in the access log are its HMAC, never the
    // address (and the inference log's hash rules use it, so the two correlate). It lives in Terraform
    // state (like every generated secret of this stack) and reaches the pod as an environment variable
    // from this Secret only. (Its name predates the access log's use of it: kept, so that stacks with
    // logging keep their key and their hashes.)
    const seed = new Bytes(this, "inference_log_key_seed", { length: 32 });
    const logSecret = new SecretV1(this, "inference_log_key", {
      metadata: { name: `${name}-inference-log-key`, namespace, labels: modelServerPodLabels(props.namePrefix, modelName) },
      type: "Opaque",
      data: { [INFERENCE_LOG_SECRET_KEY]: seed.base64 },
      dependsOn,
    });
    // Into another cloud's store the stack made the identity (props.inferenceLog.identity).
    const inferenceLogRole =
      !log || isObjectStoreLog(log)
        ? undefined
        : new WorkloadRole(this, "inference_log_role", {
            mode: log.identityMode,
            clusterName: log.clusterName,
            namespace,
            serviceAccountName: name,
            roleName: log.roleName,
            description: `Model server ${modelName} (${namespace}/${name}): writes its inference log, nothing else`,
            accountId: log.accountId,
            region: log.region,
            oidcProviderArn: log.oidcProviderArn,
            checkPodIdentityAgent: false,
            inlinePolicies: [{ name: "write-inference-log", document: inferenceLogRolePolicy(log, modelName) }],
          });
    return { logSecret, inferenceLogRole };
  }

  /** The model server's container command. */
  private serverCommand(props: ModelEndpointProps, v: Checked, c: Server): ContainerCommand {
    const { modelName } = props;
    const { name, release } = c;
    const {
      maxConcurrency,
      maxBodyBytes,
      callerHeader,
      callerRate,
      callerBurst,
      requestTimeoutSeconds,
      bodyTimeoutSeconds,
      maxUploadsPerCaller,
      limits,
      inputFields,
      progressive,
    } = v;
    const log = c.log;
    return modelServerCommand({
      image: c.image,
      modelName,
      modelVersion: release.version,
      maxConcurrency,
      maxBodyBytes,
      callerHeader,
      callerRate,
      callerBurst,
      requestTimeoutSeconds,
      bodyTimeoutSeconds,
      maxUploadsPerCaller,
      classNames: limits.classNames ?? [],
      featureNames: inputFields,
      inferenceLog: log
        ? {
            ...(isObjectStoreLog(log) ? { destination: log.destination } : { bucketName: log.bucketName, region: log.region }),
            prefix: log.prefix,
            sampling: log.sampling ?? 1,
            contextFields: log.contextFields ?? [],
            rules: (log.rules ?? []).map((r) => ({ ...r })),
            batchRecords: log.batchRecords ?? 1000,
            flushSeconds: log.flushSeconds ?? 10,
          }
        : undefined,
      // The literal name (the Deployment depends on the Secret): what the kubelet and the e2e harness look up.
      keySecret: { name: `${name}-inference-log-key`, key: INFERENCE_LOG_SECRET_KEY },
      identity: props.identity ? { ...props.identity, internalCallers: progressive ? [SMOKE_TEST_CALLER] : [] } : undefined,
    });
  }

  /** The server's service account and Deployment (whose pods a Rollout runs instead, when progressive). */
  private createWorkload(props: ModelEndpointProps, v: Checked, c: Server, cmd: ContainerCommand, logSecret: SecretV1): DeploymentV1 {
    const { replicas, progressive } = v;
    const { name, namespace, labels, podLabels, uid, dependsOn, log } = c;
    // The server's cloud identity, when it logs: the IAM role this endpoint made, or the one the stack gave.
    const identity =
      log && isObjectStoreLog(log)
        ? { serviceAccountAnnotations: log.identity.serviceAccountAnnotations, podLabels: log.identity.podLabels ?? {} }
        : { serviceAccountAnnotations: this.inferenceLogRole?.serviceAccountAnnotations ?? {}, podLabels: {} };
    const readyWith = log && isObjectStoreLog(log) ? [...(log.readyWith ?? [])] : (this.inferenceLogRole?.readyWith ?? []);
    const serviceAccount = new ServiceAccountV1(this, "service_account", {
      metadata: {
        name,
        namespace,
        labels,
        annotations: Object.keys(identity.serviceAccountAnnotations).length > 0 ? { ...identity.serviceAccountAnnotations } : undefined,
      },
      automountServiceAccountToken: false,
      dependsOn,
    });
    const probe = (p: string, periodSeconds: number, failureThreshold: number) =>
      httpGetProbe({ path: p, port: MODEL_SERVER_PORT_NAME, periodSeconds, timeoutSeconds: 2, failureThreshold });
    const adminProbe = (p: string, periodSeconds: number, failureThreshold: number) =>
      httpGetProbe({ path: p, port: MODEL_SERVER_METRICS_PORT_NAME, periodSeconds, timeoutSeconds: 2, failureThreshold });
    const autoscaling = replicas.max > replicas.min;
    const spread = (key: string, when: "DoNotSchedule" | "ScheduleAnyway") => topologySpread(key, when, podLabels, ["pod-template-hash"]);
    return new DeploymentV1(this, "deployment", {
      metadata: { name, namespace, labels },
      spec: {
        // With a Rollout the Deployment only holds the pod template (workloadRef): the Rollout runs the pods.
        replicas: progressive ? "0" : String(replicas.min),
        revisionHistoryLimit: 5,
        selector: { matchLabels: podLabels },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "1", maxUnavailable: "0" } },
        template: {
          // (An identity's pod labels, e.g. Azure Workload Identity's, go on the pods only: never in the selector.)
          metadata: {
            labels: { ...labels, ...identity.podLabels },
            annotations: { "kubectl.kubernetes.io/default-container": "model-server" },
          },
          spec: {
            serviceAccountName: serviceAccount.metadata.name,
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext(uid),
            // The server drains by itself on SIGTERM (not ready, then stop accepting, then finish).
            terminationGracePeriodSeconds: DRAIN_SECONDS + GRACEFUL_SHUTDOWN_SECONDS + 5,
            topologySpreadConstraint: [
              spread("topology.kubernetes.io/zone", props.strictZoneSpread ? "DoNotSchedule" : "ScheduleAnyway"),
              spread("kubernetes.io/hostname", "ScheduleAnyway"),
              // (A Rollout's pods carry rollouts-pod-template-hash instead; matchLabelKeys ignores a missing key.)
            ],
            container: [
              {
                name: "model-server",
                image: cmd.image,
                imagePullPolicy: "IfNotPresent",
                command: [...cmd.command],
                args: [...cmd.args],
                env: cmd.env.map(toK8sEnv),
                workingDir: TMP_DIR,
                securityContext: restrictedContainerSecurityContext(uid),
                port: Object.entries(cmd.ports ?? {}).map(([portName, containerPort]) => ({
                  name: portName,
                  containerPort,
                  protocol: "TCP",
                })),
                resources: containerResources(props.resources ?? { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } }),
                // Loading a model (imports, deserialisation) can take a while: up to 5 minutes. Liveness on
                // the admin port (the gateway never reaches /health); readiness on the traffic port.
                startupProbe: adminProbe(LIVE_PATH, 5, 60),
                readinessProbe: probe(READY_PATH, 5, 1),
                livenessProbe: adminProbe(LIVE_PATH, 10, 3),
                volumeMount: [{ name: "tmp", mountPath: TMP_DIR }],
              },
            ],
            volume: [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }],
          },
        },
      },
      waitForRollout: !progressive,
      lifecycle: autoscaling && !progressive ? { ignoreChanges: ["spec[0].replicas"] } : undefined,
      // Pods must not start before their credentials and key exist (logging on).
      dependsOn: [serviceAccount, logSecret, ...readyWith, ...dependsOn],
    });
  }

  /** The Services (and the preview one of a progressive release), the disruption budget and the autoscaler. */
  private createServices(
    props: ModelEndpointProps,
    v: Checked,
    c: Server,
    deployment: DeploymentV1,
  ): {
    service: ServiceV1;
    previewService?: ServiceV1;
    podDisruptionBudget?: PodDisruptionBudgetV1;
    autoscaler?: HorizontalPodAutoscalerV2;
  } {
    const { replicas, strategy, progressive } = v;
    const { name, namespace, labels, podLabels, previewName, dependsOn } = c;
    const autoscaling = replicas.max > replicas.min;
    let previewService: ServiceV1 | undefined;
    let podDisruptionBudget: PodDisruptionBudgetV1 | undefined;
    let autoscaler: HorizontalPodAutoscalerV2 | undefined;
    // Argo Rollouts adds `rollouts-pod-template-hash` to the selectors of the Services it switches:
    // Terraform must not take it away again.
    const switched = progressive ? { ignoreChanges: ["spec[0].selector"] } : undefined;
    // The metrics port on both Services: the ServiceMonitor scrapes the active and the preview pods alike
    // (a release's analysis reads the new version's series).
    const servicePorts = [
      { name: MODEL_SERVER_PORT_NAME, port: 80, targetPort: MODEL_SERVER_PORT_NAME, protocol: "TCP" },
      {
        name: MODEL_SERVER_METRICS_PORT_NAME,
        port: MODEL_SERVER_METRICS_PORT,
        targetPort: MODEL_SERVER_METRICS_PORT_NAME,
        protocol: "TCP",
      },
    ];
    const service = new ServiceV1(this, "service", {
      metadata: { name, namespace, labels },
      spec: {
        type: "ClusterIP",
        selector: podLabels,
        port: servicePorts,
      },
      lifecycle: strategy === "blueGreen" ? switched : undefined,
      dependsOn,
    });
    if (progressive) {
      previewService = new ServiceV1(this, "preview_service", {
        metadata: { name: previewName, namespace, labels: { ...labels, "mlflow-platform/role": "preview" } },
        spec: {
          type: "ClusterIP",
          selector: podLabels,
          port: servicePorts,
        },
        lifecycle: switched,
        dependsOn,
      });
    }
    if (replicas.min >= 2) {
      podDisruptionBudget = new PodDisruptionBudgetV1(this, "pdb", {
        metadata: { name, namespace, labels },
        spec: { maxUnavailable: "1", selector: { matchLabels: podLabels } },
        dependsOn,
      });
    }
    if (autoscaling) {
      autoscaler = new HorizontalPodAutoscalerV2(this, "hpa", {
        metadata: { name, namespace, labels },
        spec: {
          minReplicas: replicas.min,
          maxReplicas: replicas.max,
          scaleTargetRef: progressive
            ? { apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", name }
            : { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name },
          metric: [
            {
              type: "Resource",
              resource: { name: "cpu", target: { type: "Utilization", averageUtilization: props.targetCpuUtilizationPercent ?? 70 } },
            },
          ],
          behavior: {
            scaleDown: [{ stabilizationWindowSeconds: 300, selectPolicy: "Max", policy: [{ type: "Pods", value: 1, periodSeconds: 60 }] }],
          },
        },
        dependsOn,
      });
    }
    return { service, previewService, podDisruptionBudget, autoscaler };
  }

  /** Who may call the server (the gateway, the smoke test) and scrape it (Prometheus); egress only for its log. */
  private createNetworkPolicy(props: ModelEndpointProps, v: Checked, c: Server): NetworkPolicyV1 {
    const { gatewayCidrs, prometheusPodLabels, progressive } = v;
    const { name, namespace, labels, podLabels, smokeLabels, log, dependsOn } = c;
    const monitoringNamespace = props.monitoringNamespace ?? "monitoring";
    return new NetworkPolicyV1(this, "network_policy", {
      metadata: { name, namespace, labels },
      spec: {
        podSelector: { matchLabels: podLabels },
        // Egress listed with no rule: denied. Without logging the server calls nothing (not even DNS);
        // with it: DNS, the Pod Identity agent and HTTPS to S3 (constructs/model-endpoint/inference-log.ts).
        policyTypes: ["Ingress", "Egress"],
        egress: log ? (isObjectStoreLog(log) ? objectStoreLogEgress(log) : inferenceLogEgress(log)) : undefined,
        ingress: [
          {
            from: [
              ...gatewayCidrs.map((cidr) => ({ ipBlock: { cidr } })),
              ...(props.gatewayPodLabels
                ? [
                    {
                      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": props.gatewayNamespace ?? namespace } },
                      podSelector: { matchLabels: { ...props.gatewayPodLabels } },
                    },
                  ]
                : []),
              // The release's smoke test Job (same namespace), which calls the preview Service.
              ...(progressive ? [{ podSelector: { matchLabels: smokeLabels } }] : []),
            ],
            ports: [{ port: String(MODEL_SERVER_PORT), protocol: "TCP" }],
          },
          {
            // /metrics and /health: Prometheus only. The kubelet's probes come from the node, whose traffic
            // to its pods NetworkPolicies do not restrict (the readiness probe on the traffic port relies on it too).
            from: [prometheusPeer(monitoringNamespace, prometheusPodLabels)],
            ports: [{ port: String(MODEL_SERVER_METRICS_PORT), protocol: "TCP" }],
          },
        ],
      },
      dependsOn,
    });
  }

  /**
   * A progressive release: the smoke test's NetworkPolicy and command, and the Rollout's objects (in the
   * chart). Returns the smoke command.
   */
  private createRollout(props: ModelEndpointProps, v: Checked, c: Server): ContainerCommand {
    const { replicas, callerHeader, delivery, strategy } = v;
    const { modelName } = props;
    const { name, namespace, labels, podLabels, smokeLabels, previewName, release, uid, dependsOn } = c;
    // The smoke test's pods: nothing comes in; out only DNS and the model's pods.
    new NetworkPolicyV1(this, "smoke_test_network_policy", {
      metadata: { name: `${name}-smoke-test`.slice(0, 63).replace(/-+$/, ""), namespace, labels },
      spec: {
        podSelector: { matchLabels: smokeLabels },
        policyTypes: ["Ingress", "Egress"],
        egress: [
          {
            ports: [
              { port: "53", protocol: "UDP" },
              { port: "53", protocol: "TCP" },
            ],
          },
          { to: [{ podSelector: { matchLabels: podLabels } }], ports: [{ port: String(MODEL_SERVER_PORT), protocol: "TCP" }] },
        ],
      },
      dependsOn,
    });
    const smokeCommand = smokeTestCommand({
      image: c.image,
      url: `http://${previewName}.${namespace}.svc`,
      expectVersion: release.version,
      row: props.smokeTest!.row,
      expectLabel: props.smokeTest!.expectLabel,
      callerHeader,
    });
    this.resources.push(
      ...rolloutObjects({
        name,
        namespace,
        labels,
        podLabels,
        modelName,
        version: release.version,
        replicas: replicas.min,
        deploymentName: name,
        activeService: name,
        previewService: previewName,
        delivery: { ...delivery, strategy },
        smoke: smokeCommand,
        smokePodLabels: smokeLabels,
        uid: Number(uid),
      }),
    );
    return smokeCommand;
  }

  /**
   * The local chart with the objects Terraform's Kubernetes provider has no resource for: the Rollout's,
   * the TargetGroupBinding, the ServiceMonitor.
   */
  private createChart(
    props: ModelEndpointProps,
    v: Checked,
    c: Server,
    deps: { deployment: DeploymentV1; service: ServiceV1; previewService?: ServiceV1 },
  ): Release {
    const { progressive } = v;
    const { name, namespace, labels, podLabels, dependsOn } = c;
    if (props.targetGroupArn) {
      this.resources.push({
        apiVersion: "elbv2.k8s.aws/v1beta1",
        kind: "TargetGroupBinding",
        metadata: { name, namespace, labels },
        spec: { serviceRef: { name, port: 80 }, targetGroupARN: props.targetGroupArn, targetType: "ip" },
      });
    }
    this.resources.push({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: { name, namespace, labels: { ...labels, ...(props.serviceMonitorLabels ?? {}) } },
      spec: {
        selector: { matchLabels: podLabels },
        namespaceSelector: { matchNames: [namespace] },
        endpoints: [{ port: MODEL_SERVER_METRICS_PORT_NAME, path: METRICS_PATH, interval: "30s" }],
      },
    });
    const chart = new TerraformAsset(this, "chart", { path: chartDirectory(), type: AssetType.DIRECTORY });
    const customResources = new Release(this, "custom_resources", {
      name: `${name}-resources`.slice(0, 53),
      namespace,
      chart: `./${chart.path}`,
      values: [JSON.stringify({ resources: this.resources })],
      atomic: true,
      cleanupOnFail: true,
      maxHistory: 5,
      dependsOn: [deps.service, ...(deps.previewService ? [deps.previewService] : []), ...dependsOn],
    });
    // The Rollout's analysis for the new version is in place before the Deployment's template changes
    // (which is what starts the release).
    if (progressive) {
      const chartAddress = `${customResources.terraformResourceType}.${customResources.friendlyUniqueId}`;
      deps.deployment.dependsOn = [...(deps.deployment.dependsOn ?? []), chartAddress];
    }
    return customResources;
  }
}
