/**
 * The Argo Rollouts controller, installed from its official Helm chart at a pinned version, for the
 * model endpoints' blue-green and canary releases (constructs/model-endpoint/delivery.ts). Optional per
 * environment (`serving.delivery.controller: install | existing`): a cluster where a controller already
 * runs is attached to instead, as monitoring does with an existing Prometheus operator.
 *
 * Creates a namespace (restricted Pod Security) and a `helm_release` with the CRDs, the controller (two
 * replicas, restricted security context, no dashboard, its metrics Service for Prometheus), and nothing
 * exposed outside the cluster.
 */
import { PropError } from "../core/prop-error";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { Release } from "@cdktf/provider-helm/lib/release";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { DNS_LABEL } from "../core/names";
import type { ServiceContract } from "../core/contracts";
import { RESTRICTED_POD_SECURITY } from "../core/labels";

/** The controller version (the CRDs test/kube validates the Rollout and AnalysisTemplates against). */
export const ARGO_ROLLOUTS_VERSION = "v1.8.3";
/** The chart release shipping it (appVersion v1.8.3; v1.9+ is not usable here: see docs/model-serving.md). */
export const ARGO_ROLLOUTS_CHART_VERSION = "2.40.5";
export const ARGO_ROLLOUTS_REPOSITORY = "https://argoproj.github.io/argo-helm";

/** The Helm release's name: the chart's resource names and selector labels derive from it. */
const RELEASE_NAME = "argo-rollouts";
/** The controller's metrics port (its container port `metrics`, served on the Service's port of the same number). */
export const ARGO_ROLLOUTS_METRICS_PORT = 8090;
/** The controller pods' labels (argo-helm's selector labels for release "argo-rollouts", and the controller's component). */
export const ARGO_ROLLOUTS_CONTROLLER_POD_LABELS = {
  "app.kubernetes.io/name": "argo-rollouts",
  "app.kubernetes.io/instance": RELEASE_NAME,
  "app.kubernetes.io/component": "rollouts-controller",
} as const;

/**
 * The controller's metrics Service (argo-helm's templates/controller/metrics-service.yaml: `<fullname>-metrics`,
 * labelled with the component and the selector labels), which Prometheus scrapes: monitoring alerts when
 * no replica answers.
 */
export function argoRolloutsMetricsService(namespace: string): ServiceContract & { readonly metricsPath: string } {
  return {
    namespace,
    serviceName: `${RELEASE_NAME}-metrics`,
    port: ARGO_ROLLOUTS_METRICS_PORT,
    portName: "metrics",
    podLabels: { ...ARGO_ROLLOUTS_CONTROLLER_POD_LABELS },
    serviceLabels: { ...ARGO_ROLLOUTS_CONTROLLER_POD_LABELS },
    metricsPath: "/metrics",
  };
}

export interface ArgoRolloutsProps {
  /** Namespace of the controller (created here). @default "argo-rollouts" */
  readonly namespace?: string;
  /** Exact chart version. @default ARGO_ROLLOUTS_CHART_VERSION */
  readonly chartVersion?: string;
  /** Controller replicas (one leader, the others stand by). @default 2 */
  readonly replicas?: number;
  /** Labels on the namespace. @default {} */
  readonly labels?: Record<string, string>;
  /** What the release waits for. @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

export class ArgoRollouts extends Construct {
  readonly namespace: NamespaceV1;
  readonly release: Release;

  constructor(scope: Construct, id: string, props: ArgoRolloutsProps = {}) {
    super(scope, id);
    const namespace = props.namespace ?? "argo-rollouts";
    if (!DNS_LABEL.test(namespace)) throw new PropError(this, "namespace", namespace, "a DNS label");
    const chartVersion = props.chartVersion ?? ARGO_ROLLOUTS_CHART_VERSION;
    if (!/^\d+\.\d+\.\d+$/.test(chartVersion))
      throw new PropError(
        this,
        "chartVersion",
        chartVersion,
        `an exact version such as "${ARGO_ROLLOUTS_CHART_VERSION}" (no ranges: upgrades are deliberate)`,
      );
    const replicas = props.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5)
      throw new PropError(this, "replicas", replicas, "a whole number from 1 to 5");
    this.namespace = new NamespaceV1(this, "namespace", {
      metadata: {
        name: namespace,
        labels: {
          ...(props.labels ?? {}),
          ...RESTRICTED_POD_SECURITY,
        },
      },
      dependsOn: props.dependsOn,
    });
    this.release = new Release(this, "release", {
      name: RELEASE_NAME,
      namespace,
      repository: ARGO_ROLLOUTS_REPOSITORY,
      chart: "argo-rollouts",
      version: chartVersion,
      atomic: true,
      cleanupOnFail: true,
      maxHistory: 5,
      values: [
        JSON.stringify({
          installCRDs: true,
          keepCRDs: true,
          controller: {
            replicas,
            image: { tag: ARGO_ROLLOUTS_VERSION },
            resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
            // The Service Prometheus scrapes (argoRolloutsMetricsService): its port named and numbered here, not left to the chart's defaults.
            metrics: { enabled: true, service: { portName: "metrics", port: ARGO_ROLLOUTS_METRICS_PORT } },
            pdb: { enabled: replicas > 1, maxUnavailable: 1 },
          },
          podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          containerSecurityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            seccompProfile: { type: "RuntimeDefault" },
          },
          dashboard: { enabled: false },
        }),
      ],
      dependsOn: [this.namespace],
    });
  }
}
