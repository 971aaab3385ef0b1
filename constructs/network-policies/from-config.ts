/**
 * The one mapping from an environment's configuration to {@link NetworkPoliciesProps}: which namespaces
 * the stack creates (default deny there) and what each workload without a policy of its own needs.
 *
 * Workloads with their own complete policy (ingress and egress) are left to it: the proxy
 * (constructs/auth-proxy/index.ts), the registry events service (constructs/registry-events/index.ts), each model
 * endpoint (constructs/model-endpoint). The tracking server's ingress is its own policy
 * (constructs/tracking-server/index.ts); its egress is decided here.
 */
import type { EnvironmentConfig } from "../../config";
import type { KubernetesEnvironment } from "../../config/kubernetes-half";
import { accessSyncPodLabels, gcPodLabels, migrationPodLabels, trackingServerPodLabels } from "../tracking-server";
import { teamsEnabled } from "../access/from-config";
import { trackingInstance } from "../tracking-server/from-config";
import { driftJobsConfigured, driftJobPodLabels } from "../drift-job/command";
import { TRAINING_STEP_POD_LABELS } from "../training";
import { modelRetentionPodLabels } from "../model-retention/command";
import { registryEventsPodLabels } from "../registry-events/command";
import { PROMETHEUS_OPERATOR_POD_LABELS } from "../core/pod-spec";
import { ARGO_ROLLOUTS_METRICS_PORT } from "../argo-rollouts";
import type { CidrPeer, FlowRule, NetworkPoliciesProps, Peer, WorkloadAllows } from "./index";
import type { PropFieldMap } from "../core/prop-error";
import { managedLabels } from "../core/labels";

/** PostgreSQL (RDS) port. */
export const POSTGRES_PORT = 5432;
/** HTTPS: S3, STS and the other AWS APIs, identity providers, chat webhooks. */
export const HTTPS_PORT = 443;
/** The EKS Pod Identity agent on every node (credentials for pods; HTTP on a link-local address). */
export const POD_IDENTITY_AGENT: CidrPeer = { cidr: "169.254.170.23/32" };
/** The kubelet's port, which Prometheus scrapes for cAdvisor and kubelet metrics. */
export const KUBELET_PORT = 10250;
/** The Argo Workflows server's port (UI and API). */
export const ARGO_SERVER_PORT = 2746;
/** Prometheus's HTTP API (what the rollouts' analysis queries). */
export const PROMETHEUS_PORT = 9090;
/** The Argo Rollouts controller's pods (argo-helm's argo-rollouts chart: its selector labels, release "argo-rollouts"). */
export const ARGO_ROLLOUTS_POD_LABELS = {
  "app.kubernetes.io/name": "argo-rollouts",
  "app.kubernetes.io/instance": "argo-rollouts",
} as const;
/** Labels of the pods the kube-prometheus-stack chart runs (Grafana's and Alertmanager's). */
export const GRAFANA_POD_LABELS = { "app.kubernetes.io/name": "grafana" } as const;
export const ALERTMANAGER_POD_LABELS = { "app.kubernetes.io/name": "alertmanager" } as const;
export const GRAFANA_PORT = 3000;

/**
 * Addresses outside the VPC and the cluster: the public internet, without private ranges, the
 * carrier-grade NAT range (custom pod networking) and link-local (instance metadata, the Pod Identity
 * agent: each reachable only where a rule names it).
 */
export const PUBLIC_INTERNET: CidrPeer = {
  cidr: "0.0.0.0/0",
  except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"],
};

/** What {@link networkPoliciesProps} needs besides the configuration. */
export interface NetworkPolicyInputs {
  /** The namespaces this stack creates (MLflow's; the serving one; monitoring's in install mode). */
  readonly namespaces: readonly string[];
  /** The cloud's APIs and where pods get their credentials. @default AWS's (the configuration's identity.mode) */
  readonly cloud?: CloudFlows;
}

/** The flows that differ by cloud: its storage and other APIs, and where a pod gets its cloud credentials. */
export interface CloudFlows {
  readonly apis: FlowRule;
  readonly credentials: readonly FlowRule[];
}

/** The GKE metadata server, which hands Workload Identity credentials to pods (both of its addresses). */
export const GKE_METADATA_SERVER: readonly { peer: CidrPeer; port: number }[] = [
  { peer: { cidr: "169.254.169.254/32" }, port: 80 },
  { peer: { cidr: "169.254.169.252/32" }, port: 988 },
];

/** GKE's flows: Google's APIs (public endpoints or Private Google Access) and the GKE metadata server. */
export function gkeCloudFlows(vpcCidrs: readonly string[]): CloudFlows {
  return {
    apis: {
      why: "Cloud Storage and the other Google APIs (public endpoints, or Private Google Access)",
      peers: [PUBLIC_INTERNET, ...vpcCidrs.map((cidr) => ({ cidr }))],
      ports: [{ port: HTTPS_PORT }],
    },
    credentials: GKE_METADATA_SERVER.map((m) => ({
      why: "Google credentials from the GKE metadata server (Workload Identity)",
      peers: [m.peer],
      ports: [{ port: m.port }],
    })),
  };
}

/**
 * AKS's flows: Blob Storage (the storage account's public endpoint, which its firewall admits from the nodes' subnet
 * through the Microsoft.Storage service endpoint) and Microsoft Entra ID's token endpoint, where workload identity
 * exchanges the pod's projected service account token (login.microsoftonline.com): both HTTPS on the internet. No
 * credential endpoint on the node: the token is a file the kubelet projects into the pod.
 */
export function aksCloudFlows(vpcCidrs: readonly string[]): CloudFlows {
  return {
    apis: {
      why: "Blob Storage and Microsoft Entra ID's token endpoint (workload identity's token exchange)",
      peers: [PUBLIC_INTERNET, ...vpcCidrs.map((cidr) => ({ cidr }))],
      ports: [{ port: HTTPS_PORT }],
    },
    credentials: [],
  };
}

/**
 * Flows every environment's workloads need, by namespace:
 *
 * | workload | egress allowed (besides DNS) |
 * |---|---|
 * | tracking server | RDS (VPC, 5432); AWS APIs (443: S3 public endpoints and VPC endpoints); the Pod Identity agent (80); the events service's pods (webhooks) |
 * | migration Job | RDS (VPC, 5432) |
 * | access sync Job (teams only) | RDS (VPC, 5432) |
 * | gc CronJob | RDS (VPC, 5432); the tracking server; AWS APIs (443); the Pod Identity agent |
 * | model-retention CronJob | the tracking server; AWS APIs (443); the Pod Identity agent |
 * | monitoring (install mode) | within the namespace; the Kubernetes API (VPC, 443); Prometheus: every pod (scrapes) and the kubelets; Alertmanager: the receivers (internet 443, SMTP); Grafana: the issuer and CloudWatch (internet 443), the Pod Identity agent; Grafana's port from the VPC (its load balancer) |
 */
export function networkPoliciesProps(
  config: KubernetesEnvironment & { readonly identity?: EnvironmentConfig["identity"] },
  inputs: NetworkPolicyInputs,
): NetworkPoliciesProps {
  const ns = config.mlflow.namespace;
  const vpc: Peer[] = config.ingress.vpcCidrs.map((cidr) => ({ cidr }));
  const podIdentity = config.identity?.mode === "pod-identity";
  const tracking: Peer = { namespace: ns, podLabels: trackingServerPodLabels(trackingInstance(config)) };

  const database: FlowRule = { why: "the PostgreSQL database (RDS, in the VPC)", peers: vpc, ports: [{ port: POSTGRES_PORT }] };
  const awsApis: FlowRule = inputs.cloud?.apis ?? {
    why: "S3 and the other AWS APIs (public endpoints, or interface endpoints in the VPC)",
    peers: [PUBLIC_INTERNET, ...vpc],
    ports: [{ port: HTTPS_PORT }],
  };
  const credentials: FlowRule[] = inputs.cloud
    ? [...inputs.cloud.credentials]
    : podIdentity
      ? [{ why: "AWS credentials from the EKS Pod Identity agent", peers: [POD_IDENTITY_AGENT], ports: [{ port: 80 }] }]
      : [];
  const toTracking: FlowRule = { why: "the tracking server's API, in-cluster", peers: [tracking], ports: [{ port: config.mlflow.port }] };

  const workloads: WorkloadAllows[] = [
    {
      name: "tracking-server-egress",
      namespace: ns,
      podLabels: trackingServerPodLabels(trackingInstance(config)),
      egress: [
        database,
        awsApis,
        ...credentials,
        ...(config.events.enabled
          ? [
              {
                why: "registry webhooks to the events service",
                peers: [{ namespace: ns, podLabels: registryEventsPodLabels(config) }],
                ports: [{ port: config.events.port }],
              },
            ]
          : []),
      ],
    },
    { name: "db-migration-egress", namespace: ns, podLabels: migrationPodLabels(trackingInstance(config)), egress: [database] },
    // Teams: the sync Job writes the workspaces and roles into the auth tables, in the same database.
    ...(teamsEnabled(config)
      ? [{ name: "access-sync-egress", namespace: ns, podLabels: accessSyncPodLabels(trackingInstance(config)), egress: [database] }]
      : []),
    {
      name: "gc-egress",
      namespace: ns,
      podLabels: gcPodLabels(trackingInstance(config)),
      egress: [database, toTracking, awsApis, ...credentials],
    },
    {
      name: "model-retention-egress",
      namespace: ns,
      podLabels: modelRetentionPodLabels(config),
      egress: [toTracking, awsApis, ...credentials],
    },
    // The drift CronJobs: the monitoring run to MLflow, the logged records from S3, alerts to
    // Slack/Discord (HTTPS) and e-mail (the events service's SMTP server).
    ...(driftJobsConfigured(config)
      ? [
          {
            name: "drift-job-egress",
            namespace: ns,
            podLabels: driftJobPodLabels(config),
            egress: [
              toTracking,
              awsApis,
              ...credentials,
              ...(config.events.email
                ? [
                    {
                      why: "drift alerts by e-mail (the events service's SMTP server)",
                      peers: [PUBLIC_INTERNET, ...vpc],
                      ports: [{ port: config.events.email.smtpPort }],
                    },
                  ]
                : []),
            ],
          },
        ]
      : []),
  ];

  // Training pipelines: workflow pods reach MLflow through its load balancer, S3 and (the
  // executor) the Kubernetes API, all on 443; Argo's controller and server reach the Kubernetes API and
  // the issuer (443), and the server's UI port is open to the VPC (its load balancer).
  const t = config.training;
  if (t.enabled && inputs.namespaces.includes(t.namespace)) {
    workloads.push({
      name: "workflow-pods-egress",
      namespace: t.namespace,
      podLabels: { ...TRAINING_STEP_POD_LABELS },
      egress: [
        {
          why: "MLflow through its load balancer, S3 and the Kubernetes API (the executor's task results)",
          peers: [PUBLIC_INTERNET, ...vpc],
          ports: [{ port: HTTPS_PORT }],
        },
        ...credentials,
      ],
    });
  }
  if (t.enabled && t.argo.mode === "install" && inputs.namespaces.includes(t.argo.namespace)) {
    workloads.push({
      name: "argo-workflows",
      namespace: t.argo.namespace,
      // The chart's common label on the controller's and the server's pods (argo-helm's _helpers.tpl).
      podLabels: { "app.kubernetes.io/part-of": "argo-workflows" },
      ingress: [{ why: "the Argo UI's load balancer (in the VPC)", peers: vpc, ports: [{ port: ARGO_SERVER_PORT }] }],
      egress: [
        {
          why: "the Kubernetes API server (VPC) and the identity provider (SSO)",
          peers: [PUBLIC_INTERNET, ...vpc],
          ports: [{ port: HTTPS_PORT }],
        },
      ],
    });
  }

  // The Argo Rollouts controller (installed with the serving platform): the Kubernetes API, and the analysis
  // queries to Prometheus (the one delivery.prometheusUrl names, by default the monitoring namespace's).
  const d = config.serving.delivery;
  const rollouts = d.strategy !== "rollingUpdate" && d.controller === "install" && inputs.namespaces.includes(d.controllerNamespace);
  const promUrl = d.prometheusUrl ? new URL(d.prometheusUrl) : undefined;
  if (rollouts) {
    workloads.push({
      name: "argo-rollouts-controller",
      namespace: d.controllerNamespace,
      podLabels: { ...ARGO_ROLLOUTS_POD_LABELS },
      // Prometheus scrapes the controller's metrics (the monitoring namespace's, or the existing one's pods
      // that monitoring.prometheusPodLabels names): a controller that stops answering is alerted on.
      ingress: [
        {
          why: "Prometheus' scrapes of the controller's metrics",
          peers: [
            {
              namespace: config.monitoring.namespace,
              podLabels: { ...(config.monitoring.prometheusPodLabels ?? PROMETHEUS_OPERATOR_POD_LABELS) },
            },
          ],
          ports: [{ port: ARGO_ROLLOUTS_METRICS_PORT }],
        },
      ],
      egress: [
        { why: "the Kubernetes API server (EKS control plane addresses in the VPC)", peers: vpc, ports: [{ port: HTTPS_PORT }] },
        promUrl
          ? {
              why: "the analysis queries to serving.delivery.prometheusUrl",
              peers: [{ allNamespaces: true }, PUBLIC_INTERNET, ...vpc],
              ports: [{ port: Number(promUrl.port || (promUrl.protocol === "https:" ? HTTPS_PORT : 80)) }],
            }
          : {
              why: "the analysis queries to Prometheus",
              peers: [
                {
                  namespace: config.monitoring.namespace,
                  podLabels: { ...(config.monitoring.prometheusPodLabels ?? PROMETHEUS_OPERATOR_POD_LABELS) },
                },
              ],
              ports: [{ port: PROMETHEUS_PORT }],
            },
      ],
    });
  }

  const m = config.monitoring;
  if (m.mode === "install" && inputs.namespaces.includes(m.namespace)) {
    const mon = m.namespace;
    const prometheus = { ...(m.prometheusPodLabels ?? PROMETHEUS_OPERATOR_POD_LABELS) };
    const kubeApi: FlowRule = {
      why: "the Kubernetes API server (EKS control plane addresses in the VPC)",
      peers: vpc,
      ports: [{ port: HTTPS_PORT }],
    };
    const smtpPort = m.email ? Number(m.email.smarthost.split(":").pop()) : undefined;
    workloads.push(
      {
        name: "within-namespace",
        namespace: mon,
        podLabels: {},
        ingress: [
          {
            why: "the monitoring stack's parts talk to each other (Grafana -> Prometheus -> Alertmanager, scrapes)",
            peers: [{ namespace: mon, podLabels: {} }],
          },
          {
            why: "the Kubernetes API server calls the operator's admission webhook",
            peers: vpc,
            ports: [{ port: KUBELET_PORT }, { port: HTTPS_PORT }],
          },
        ],
        egress: [{ why: "the monitoring stack's parts talk to each other", peers: [{ namespace: mon, podLabels: {} }] }, kubeApi],
      },
      {
        name: "prometheus-scrapes",
        namespace: mon,
        podLabels: prometheus,
        ...(rollouts && !promUrl
          ? {
              ingress: [
                {
                  why: "the Argo Rollouts controller's analysis queries",
                  peers: [{ namespace: d.controllerNamespace, podLabels: { ...ARGO_ROLLOUTS_POD_LABELS } }],
                  ports: [{ port: PROMETHEUS_PORT }],
                },
              ],
            }
          : {}),
        egress: [
          { why: "scrapes of every pod the ServiceMonitors name, in any namespace", peers: [{ allNamespaces: true }] },
          { why: "the kubelets' metrics (nodes in the VPC)", peers: vpc, ports: [{ port: KUBELET_PORT }] },
        ],
      },
      {
        name: "alertmanager-receivers",
        namespace: mon,
        podLabels: { ...ALERTMANAGER_POD_LABELS },
        egress: [
          {
            why: "alert receivers outside the cluster (Slack, Discord, SMTP)",
            peers: [PUBLIC_INTERNET, ...vpc],
            ports: [{ port: HTTPS_PORT }, ...(smtpPort ? [{ port: smtpPort }] : [])],
          },
        ],
      },
      {
        name: "grafana",
        namespace: mon,
        podLabels: { ...GRAFANA_POD_LABELS },
        ...(m.grafanaHostname
          ? { ingress: [{ why: "Grafana's load balancer (in the VPC)", peers: vpc, ports: [{ port: GRAFANA_PORT }] }] }
          : {}),
        egress: [
          { why: "the identity provider and CloudWatch", peers: [PUBLIC_INTERNET, ...vpc], ports: [{ port: HTTPS_PORT }] },
          ...credentials,
        ],
      },
    );
  }

  return {
    namespaces: inputs.namespaces,
    workloads,
    labels: managedLabels(config.project),
  };
}

/**
 * The configuration behind NetworkPolicies' props ({@link networkPoliciesProps}): none directly. The
 * namespaces are those the stack creates and the workloads' rules are derived here, so a refusal is a bug
 * in this mapping, not a configuration problem.
 */
export const NETWORK_POLICIES_FIELDS: PropFieldMap = {
  namespaces: null,
  workloads: null,
};
