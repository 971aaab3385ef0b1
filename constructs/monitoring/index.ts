import * as fs from "fs";
import * as path from "path";
import { Annotations, AssetType, TerraformAsset, Token, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { Release } from "@cdktf/provider-helm/lib/release";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { Password } from "@cdktf/provider-random/lib/password";
import { StringResource } from "@cdktf/provider-random/lib/string-resource";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { DataAwsSecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-version";
import type { EksPodIdentityAssociation } from "@cdktf/provider-aws/lib/eks-pod-identity-association";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { OIDC_PROVIDER_ARN, albTagsAnnotation } from "../core/aws";
import { DNS_LABEL } from "../core/names";
import { WorkloadRole } from "../core/workload-role";
import type { AuthProxyContract, ServiceContract, SecretKeyRef, TrackingServerContract } from "../core/contracts";
import { alertmanagerSecrets, buildAlertmanagerConfig, type AlertmanagerConfig, type AlertRouting } from "./alertmanager";
import { buildCloudWatchDashboard, cloudWatchDatasource, CLOUDWATCH_DATASOURCE_UID, grafanaCloudWatchPolicy } from "./cloudwatch";
import { buildDashboards, type Dashboard } from "./dashboards";
import { buildModelServingDashboard, buildModelServingRuleGroups, type ModelServingRuleGroup } from "./model-serving";
import {
  buildRegistryEventsRuleGroup,
  buildRolloutsControllerRuleGroup,
  buildRuleGroups,
  DEFAULT_THRESHOLDS,
  type AlertThresholds,
  type RuleGroup,
} from "./rules";
import { PropError } from "../core/prop-error";
import { managedLabels } from "../core/labels";

/** kube-prometheus-stack, pinned exactly (checked against the chart's Chart.yaml: 88.5.3, operator v0.93.1). */
export const KUBE_PROMETHEUS_STACK_VERSION = "88.5.3";
/** Where the chart is published (OCI). */
export const KUBE_PROMETHEUS_STACK_REPOSITORY = "oci://ghcr.io/prometheus-community/charts";

/** Grafana's own sign-in against the platform's OpenID Connect issuer (Grafana's generic OAuth). */
export interface GrafanaSsoOptions {
  /** The OIDC issuer (for the record in Grafana's settings and the docs); the endpoints below are used. */
  readonly issuerUrl: string;
  /** Authorization endpoint (the issuer's discovery document `authorization_endpoint`). */
  readonly authUrl: string;
  /** Token endpoint (`token_endpoint`). */
  readonly tokenUrl: string;
  /** UserInfo endpoint (`userinfo_endpoint`). */
  readonly userInfoUrl: string;
  /** OIDC client id; its redirect URIs must include `https://<hostname>/login/generic_oauth`. */
  readonly clientId: string;
  /**
   * Where the client secret comes from: a Kubernetes Secret in the monitoring namespace, or a Secrets
   * Manager secret (plain string) that the construct copies into one (the value lives only in state).
   */
  readonly clientSecret: { readonly kubernetes: SecretKeyRef } | { readonly secretsManagerArn: string };
  /** Scopes requested. @default ["openid", "email", "profile", "groups"] */
  readonly scopes?: readonly string[];
  /** Claim holding the groups. @default "groups" */
  readonly groupsClaim?: string;
  /** Groups allowed to sign in. Deny by default: this or `allowedEmailDomains` must be non-empty. @default [] */
  readonly allowedGroups?: readonly string[];
  /** E-mail domains allowed to sign in. @default [] */
  readonly allowedEmailDomains?: readonly string[];
  /** Groups whose members become Grafana admins; everyone else is a Viewer. @default [] (nobody is admin through SSO) */
  readonly adminGroups?: readonly string[];
}

/** How Grafana is reached from outside the cluster. */
export interface GrafanaExposureOptions {
  /** Public hostname, covered by the certificate. */
  readonly hostname: string;
  /** `alb`: an Ingress for the AWS Load Balancer Controller; `gateway-api`: an HTTPRoute on `gatewayRef`. */
  readonly kind: "alb" | "gateway-api";
  /** ACM certificate (alb). */
  readonly certificateArn?: string;
  /** Load balancer scheme (alb). @default "internal" */
  readonly scheme?: "internal" | "internet-facing";
  /** ALB TLS policy. @default "ELBSecurityPolicy-TLS13-1-2-2021-06" */
  readonly sslPolicy?: string;
  /** The Gateway an HTTPRoute attaches to (gateway-api). */
  readonly gatewayRef?: { readonly namespace: string; readonly name: string };
  /**
   * Tags of the ALB, its target group and security group (alb), which the AWS provider's default tags do
   * not reach: the controller creates them. Pass the environment's default tags.
   * @default none
   */
  readonly loadBalancerTags?: Record<string, string>;
  /** Sign-in: exposure without it is refused. */
  readonly sso: GrafanaSsoOptions;
}

/** The name Grafana's service account gets when CloudWatch is on (set explicitly: the Pod Identity association names it). */
export const GRAFANA_SERVICE_ACCOUNT = "grafana";

/**
 * The RDS and S3 figures in the installed Grafana: a CloudWatch data source, an IAM role for Grafana's
 * service account that may only read CloudWatch metrics in `region`, and the dashboard
 * "MLflow / Database and artifacts".
 */
export interface CloudWatchOptions {
  /** Region of the database and the bucket: the data source's default region, and the only region the role may read. Required. */
  readonly region: string;
  /** The backend store's DB instance identifier (dimension `DBInstanceIdentifier`). Required. */
  readonly dbInstanceIdentifier: string;
  /** The read replica's DB instance identifier. @default no replica panels */
  readonly dbReplicaIdentifier?: string;
  /** The artifact bucket's name (dimension `BucketName`). Required. */
  readonly bucketName: string;
  /** How Grafana's pod gets the role: EKS Pod Identity (needs the eks-pod-identity-agent add-on) or IRSA. @default "pod-identity" */
  readonly identityMode?: "pod-identity" | "irsa";
  /** EKS cluster Grafana runs on (the Pod Identity association and trust). Required. */
  readonly clusterName: string;
  /** AWS account of the cluster; the Pod Identity trust is limited to the cluster's ARN in it. Required. */
  readonly accountId: string;
  /** IRSA only: ARN of the cluster's IAM OIDC provider. @default - none (required when identityMode is "irsa") */
  readonly oidcProviderArn?: string;
  /** IAM role name (unique per account: include the environment). Required. */
  readonly roleName: string;
  /** Uid of the provisioned data source, which the dashboard's panels name. @default CLOUDWATCH_DATASOURCE_UID ("cloudwatch") */
  readonly datasourceUid?: string;
}

export interface MonitoringProps {
  /** The tracking server to scrape (its contract). */
  readonly trackingServer: TrackingServerContract;
  /** The proxy to scrape (its contract). */
  readonly authProxy: AuthProxyContract;
  /**
   * The registry events service to scrape and alert on, with the seconds after which it counts
   * as behind the registry (`events.behindSeconds`). @default none (the service is not deployed)
   */
  readonly registryEvents?: { readonly service: ServiceContract & { readonly metricsPath: string }; readonly behindSeconds: number };
  /**
   * The model servers to alert on and show on the "Model serving" dashboard: their namespace
   * and each model's PSI threshold. @default none (no model served)
   */
  readonly modelServing?: {
    readonly namespace: string;
    readonly models: readonly { readonly name: string; readonly psiThreshold: number }[];
  };
  /**
   * The Argo Rollouts controller the stack installs (its metrics Service): scraped, and alerted on when no
   * replica answers (its analyses query this Prometheus; a controller that is down stops every release and
   * every automatic abort). @default none (no controller installed)
   */
  readonly rolloutsController?: ServiceContract & { readonly metricsPath: string };
  /**
   * `install`: install kube-prometheus-stack (Prometheus, Alertmanager, Grafana, kube-state-metrics).
   * `existing`: an operator is already there; only the ServiceMonitors, rules and dashboards are shipped.
   * @default "install"
   */
  readonly mode?: "install" | "existing";
  /** Namespace of the monitoring stack and of the objects this construct ships. @default "monitoring" */
  readonly namespace?: string;
  /** Create the namespace (Pod Security "baseline" enforced, "restricted" warned). @default true in install mode, false in existing mode */
  readonly createNamespace?: boolean;
  /** Prometheus retention in days. @default 15 */
  readonly retentionDays?: number;
  /** Prometheus volume size in GiB. @default 50 */
  readonly storageGb?: number;
  /** Storage class of Prometheus' and Alertmanager's volumes. @default the cluster's default class */
  readonly storageClassName?: string;
  /** Alert thresholds. @default DEFAULT_THRESHOLDS (5% errors, p95 2 s, p99 5 s, 1 refused request/s, volume 85%) */
  readonly thresholds?: Partial<AlertThresholds>;
  /**
   * Acknowledges that alerts reach nobody (neither `slack` nor `email` set): the construct then adds no
   * warning about it. No effect when a receiver is set.
   * @default false (a warning is added when no receiver is set)
   */
  readonly alertsReachNobody?: boolean;
  /** Slack: the webhook URL is read from a Secret (monitoring namespace) mounted into Alertmanager. @default no Slack */
  readonly slack?: {
    readonly channel: string;
    readonly webhookSecretName: string;
    /** @default "url" */ readonly webhookSecretKey?: string;
  };
  /** Discord: the channel webhook URL is read from a Secret (monitoring namespace) mounted into Alertmanager (>= 0.26 reads `webhook_url_file`). @default no Discord */
  readonly discord?: { readonly webhookSecretName: string; /** @default "url" */ readonly webhookSecretKey?: string };
  /** E-mail through SMTP; a password is read from a mounted Secret. @default no e-mail */
  readonly email?: {
    readonly to: readonly string[];
    readonly from: string;
    readonly smarthost: string;
    readonly authUsername?: string;
    readonly authPasswordSecretName?: string;
    /** @default "password" */
    readonly authPasswordSecretKey?: string;
    /** @default true */
    readonly requireTls?: boolean;
  };
  /** Expose Grafana outside the cluster, behind its own OIDC sign-in. @default Grafana is reachable in-cluster only (port-forward) */
  readonly grafana?: GrafanaExposureOptions;
  /** SNS topic of the CloudWatch alarms (RDS); `alarmEmails` are subscribed to it. @default no subscription */
  readonly alarmTopicArn?: string;
  /** Addresses subscribed by e-mail to `alarmTopicArn`. @default email.to */
  readonly alarmEmails?: readonly string[];
  /** Run node-exporter (needs host access: the namespace then enforces "privileged"). @default false */
  readonly nodeExporter?: boolean;
  /** Helm release name of kube-prometheus-stack. @default "kube-prometheus-stack" */
  readonly releaseName?: string;
  /** Chart version (exact). @default KUBE_PROMETHEUS_STACK_VERSION */
  readonly chartVersion?: string;
  /** Extra labels on the ServiceMonitors and PrometheusRule, for an existing Prometheus whose selectors need them (e.g. `release`). @default {} */
  readonly selectorLabels?: Readonly<Record<string, string>>;
  /** Grafana data source uid the dashboards query. @default "prometheus" (kube-prometheus-stack's) */
  readonly datasourceUid?: string;
  /** Where alert `runbook_url`s point (`<base>#<alert name in lower case>`). @default "docs/monitoring.md" (the runbook section of this repository's monitoring reference) */
  readonly runbookBaseUrl?: string;
  /** Resources the releases wait for (e.g. the workload namespace). @default none */
  readonly dependsOn?: ITerraformDependable[];
  /**
   * RDS and S3 figures in Grafana from CloudWatch (install mode only: the data source lives in the
   * installed Grafana; in existing mode see the README).
   * @default none: no CloudWatch data source, no AWS role for Grafana, no fourth dashboard
   */
  readonly cloudWatch?: CloudWatchOptions;
}

/** Where Grafana's pod mounts the OIDC client secret. */
const OIDC_SECRET_MOUNT = "/etc/secrets/oidc-client";
const PART_OF = "mlflow-platform";

/** Finds the local chart both from the TypeScript sources and from the compiled dist/ tree. */
function chartDirectory(): string {
  const candidates = [path.join(__dirname, "chart"), path.join(__dirname, "..", "..", "..", "constructs", "monitoring", "chart")];
  const found = candidates.find((c) => fs.existsSync(path.join(c, "Chart.yaml")));
  if (!found) throw new Error(`Monitoring: the local chart was not found (looked in ${candidates.join(", ")})`);
  return found;
}

/**
 * Makes the platform observable: Prometheus scraping the tracking server and the proxy, alert rules with
 * runbooks, Alertmanager routing to Slack and e-mail, Grafana dashboards, and the RDS alarm topic's
 * e-mail subscriptions. With `cloudWatch` (install mode), Grafana also reads the RDS and S3 figures from
 * CloudWatch through an IAM role of its own that may only read metrics.
 *
 * Custom resources (ServiceMonitors, PrometheusRule) are installed by a small local Helm chart whose
 * values carry the whole objects: no `kubernetes_manifest`, so the first plan never needs the CRDs.
 */
export class Monitoring extends Construct {
  /** Namespace of the monitoring stack. */
  readonly namespace: string;
  /** The alert rules, exactly as deployed. */
  readonly ruleGroups: RuleGroup[];
  /** The model servers' recording and alerting rules, exactly as deployed. */
  readonly modelServingRuleGroups: ModelServingRuleGroup[];
  /** The dashboards, exactly as deployed. */
  readonly dashboards: Dashboard[];
  /** The ServiceMonitors and PrometheusRule shipped by the local chart. */
  readonly resources: Record<string, unknown>[];
  /** Alertmanager's configuration (install mode). */
  readonly alertmanagerConfig?: AlertmanagerConfig;
  /** kube-prometheus-stack's values (install mode). */
  readonly stackValues?: Record<string, unknown>;
  /** The kube-prometheus-stack release (install mode). */
  readonly stackRelease?: Release;
  /** The release of the local chart. */
  readonly resourcesRelease: Release;
  /** The thresholds in force. */
  readonly thresholds: AlertThresholds;
  /** Grafana's IAM role, which may only read CloudWatch metrics (install mode with `cloudWatch`). */
  readonly grafanaRole?: IamRole;
  /** The Pod Identity association of Grafana's service account (`cloudWatch` in Pod Identity mode). */
  readonly grafanaPodIdentityAssociation?: EksPodIdentityAssociation;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const mode = props.mode ?? "install";
    this.namespace = props.namespace ?? "monitoring";
    const retentionDays = props.retentionDays ?? 15;
    const storageGb = props.storageGb ?? 50;
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...(props.thresholds ?? {}) };
    validate(this, props, mode, this.namespace, retentionDays, storageGb);

    const ts = props.trackingServer;
    const proxy = props.authProxy;
    // What the alert rules and the dashboards watch: the same series for both.
    const targets = {
      workloadNamespace: ts.namespace,
      trackingNamespace: ts.namespace,
      trackingJob: ts.serviceName,
      proxyNamespace: proxy.namespace,
      proxyJob: proxy.serviceName,
      prometheusNamespace: this.namespace,
      prometheusPvcPrefix: "prometheus-",
    };
    this.ruleGroups = buildRuleGroups({ ...targets, runbookBaseUrl: props.runbookBaseUrl ?? "docs/monitoring.md" }, this.thresholds, this);
    const events = props.registryEvents;
    if (events) {
      this.ruleGroups.push(
        buildRegistryEventsRuleGroup(
          {
            namespace: events.service.namespace,
            job: events.service.serviceName,
            behindSeconds: events.behindSeconds,
            runbookBaseUrl: (props.runbookBaseUrl ?? "docs/monitoring.md").replace(/monitoring\.md$/, "registry-events.md"),
          },
          this,
        ),
      );
    }
    const rollouts = props.rolloutsController;
    if (rollouts) {
      this.ruleGroups.push(
        buildRolloutsControllerRuleGroup({
          namespace: rollouts.namespace,
          job: rollouts.serviceName,
          runbookBaseUrl: props.runbookBaseUrl ?? "docs/monitoring.md",
        }),
      );
    }
    const servingTargets = props.modelServing
      ? {
          ...props.modelServing,
          errorRatio: this.thresholds.errorRatio,
          latencyP99Seconds: this.thresholds.latencyP99Seconds,
          minRequestsPerSecond: this.thresholds.minRequestsPerSecond,
          runbookBaseUrl: props.runbookBaseUrl ?? "docs/monitoring.md",
          datasourceUid: props.datasourceUid ?? "prometheus",
        }
      : undefined;
    this.modelServingRuleGroups = servingTargets ? buildModelServingRuleGroups(servingTargets, this) : [];
    const cloudWatch = mode === "install" ? props.cloudWatch : undefined;
    const cloudWatchUid = cloudWatch?.datasourceUid ?? CLOUDWATCH_DATASOURCE_UID;
    this.dashboards = [
      ...buildDashboards({ ...targets, datasourceUid: props.datasourceUid ?? "prometheus" }),
      ...(cloudWatch
        ? [
            buildCloudWatchDashboard({
              dbInstanceIdentifier: cloudWatch.dbInstanceIdentifier,
              dbReplicaIdentifier: cloudWatch.dbReplicaIdentifier,
              bucketName: cloudWatch.bucketName,
              datasourceUid: cloudWatchUid,
            }),
          ]
        : []),
      ...(servingTargets ? [buildModelServingDashboard(servingTargets)] : []),
    ];

    const labels = { ...managedLabels(PART_OF), ...(props.selectorLabels ?? {}) };
    this.resources = [
      serviceMonitor("mlflow-tracking-server", this.namespace, labels, ts.namespace, ts.serviceLabels, ts.portName, ts.metricsPath),
      serviceMonitor(
        "mlflow-oauth2-proxy",
        this.namespace,
        labels,
        proxy.namespace,
        proxy.serviceLabels,
        proxy.metricsPortName,
        "/metrics",
      ),
      ...(events
        ? [
            serviceMonitor(
              "mlflow-registry-events",
              this.namespace,
              labels,
              events.service.namespace,
              events.service.serviceLabels,
              events.service.portName,
              events.service.metricsPath,
            ),
          ]
        : []),
      ...(rollouts
        ? [
            serviceMonitor(
              "argo-rollouts-controller",
              this.namespace,
              labels,
              rollouts.namespace,
              rollouts.serviceLabels,
              rollouts.portName,
              rollouts.metricsPath,
            ),
          ]
        : []),
      {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: { name: "mlflow-platform", namespace: this.namespace, labels },
        spec: { groups: [...this.ruleGroups, ...this.modelServingRuleGroups] },
      },
    ];

    const createNamespace = props.createNamespace ?? mode === "install";
    const waitFor: ITerraformDependable[] = [...(props.dependsOn ?? [])];
    if (createNamespace) {
      const level = props.nodeExporter ? "privileged" : "baseline";
      waitFor.push(
        new NamespaceV1(this, "namespace", {
          metadata: {
            name: this.namespace,
            labels: {
              ...managedLabels(PART_OF),
              // Prometheus, Grafana and the operator run as non-root; node-exporter (off by default) needs host access.
              "pod-security.kubernetes.io/enforce": level,
              "pod-security.kubernetes.io/enforce-version": "latest",
              "pod-security.kubernetes.io/warn": "restricted",
              "pod-security.kubernetes.io/audit": "restricted",
            },
          },
        }),
      );
    }

    if (mode === "install") {
      const routing: AlertRouting = {
        slack: props.slack ? { ...props.slack, webhookSecretKey: props.slack.webhookSecretKey ?? "url" } : undefined,
        discord: props.discord
          ? { webhookSecretName: props.discord.webhookSecretName, webhookSecretKey: props.discord.webhookSecretKey ?? "url" }
          : undefined,
        email: props.email
          ? {
              ...props.email,
              authPasswordSecretKey: props.email.authPasswordSecretKey ?? "password",
              requireTls: props.email.requireTls ?? true,
            }
          : undefined,
      };
      if (!routing.slack && !routing.email && !routing.discord && !props.alertsReachNobody) {
        Annotations.of(this).addWarning(
          "Monitoring: neither slack, discord nor email is configured: alerts fire in Alertmanager but reach nobody. Set monitoring.slack, monitoring.discord or monitoring.email.",
        );
      }
      this.alertmanagerConfig = buildAlertmanagerConfig(routing);

      // Grafana's admin credentials: generated (a user name that is not guessable either), kept in state
      // and in a Secret, never in values. Read them with kubectl for break-glass access.
      const adminUser = new StringResource(this, "grafana_admin_user", { length: 8, upper: false, special: false });
      const adminPassword = new Password(this, "grafana_admin_password", { length: 32, special: false });
      const adminSecret = new SecretV1(this, "grafana_admin", {
        metadata: { name: "grafana-admin", namespace: this.namespace, labels },
        data: { "admin-user": `admin-${adminUser.result}`, "admin-password": adminPassword.result },
        dependsOn: nonEmpty(waitFor),
      });
      const grafanaPrerequisites: ITerraformDependable[] = [adminSecret];
      let clientSecretRef: SecretKeyRef | undefined;
      if (props.grafana) {
        const cs = props.grafana.sso.clientSecret;
        if ("kubernetes" in cs) {
          clientSecretRef = cs.kubernetes;
        } else {
          const version = new DataAwsSecretsmanagerSecretVersion(this, "grafana_oidc_client_secret_source", {
            secretId: cs.secretsManagerArn,
          });
          clientSecretRef = { name: "grafana-oidc-client", key: "client-secret" };
          grafanaPrerequisites.push(
            new SecretV1(this, "grafana_oidc_client", {
              metadata: { name: clientSecretRef.name, namespace: this.namespace, labels },
              data: { [clientSecretRef.key]: version.secretString },
              dependsOn: nonEmpty(waitFor),
            }),
          );
        }
      }

      let grafanaAws: GrafanaAws | undefined;
      if (cloudWatch) {
        const identity = this.grafanaIdentity(cloudWatch);
        this.grafanaRole = identity.role;
        this.grafanaPodIdentityAssociation = identity.association;
        grafanaPrerequisites.push(...identity.readyWith);
        grafanaAws = {
          datasource: cloudWatchDatasource(cloudWatchUid, cloudWatch.region),
          serviceAccountAnnotations: identity.serviceAccountAnnotations,
        };
      }

      this.stackValues = stackValues({
        props,
        retentionDays,
        storageGb,
        thresholds: this.thresholds,
        alertmanager: this.alertmanagerConfig,
        alertmanagerSecrets: alertmanagerSecrets(routing),
        adminSecretName: "grafana-admin",
        clientSecretRef,
        grafanaAws,
      });
      this.stackRelease = new Release(this, "kube_prometheus_stack", {
        name: props.releaseName ?? "kube-prometheus-stack",
        namespace: this.namespace,
        repository: KUBE_PROMETHEUS_STACK_REPOSITORY,
        chart: "kube-prometheus-stack",
        version: props.chartVersion ?? KUBE_PROMETHEUS_STACK_VERSION,
        values: [JSON.stringify(this.stackValues)],
        atomic: true,
        cleanupOnFail: true,
        wait: true,
        timeout: 900,
        maxHistory: 5,
        dependsOn: [...waitFor, ...grafanaPrerequisites],
      });
    }

    const chart = new TerraformAsset(this, "chart", { path: chartDirectory(), type: AssetType.DIRECTORY });
    this.resourcesRelease = new Release(this, "resources", {
      name: "mlflow-monitoring",
      namespace: this.namespace,
      chart: `./${chart.path}`,
      values: [JSON.stringify({ resources: this.resources })],
      atomic: true,
      cleanupOnFail: true,
      maxHistory: 5,
      // The CRDs come with kube-prometheus-stack: install it first.
      dependsOn: this.stackRelease ? [...waitFor, this.stackRelease] : nonEmpty(waitFor),
    });

    for (const d of this.dashboards) {
      new ConfigMapV1(this, `dashboard_${d.uid.replace(/-/g, "_")}`, {
        metadata: {
          name: `dashboard-${d.uid}`,
          namespace: this.namespace,
          // Grafana's sidecar loads ConfigMaps with this label from every namespace.
          labels: { ...labels, grafana_dashboard: "1" },
        },
        data: { [`${d.uid}.json`]: JSON.stringify(d) },
        dependsOn: nonEmpty(waitFor),
      });
    }

    const alarmEmails = props.alarmEmails ?? props.email?.to ?? [];
    if (props.alarmTopicArn) {
      [...new Set(alarmEmails)].forEach((address, i) => {
        new SnsTopicSubscription(this, `alarm_email_${i}`, { topicArn: props.alarmTopicArn!, protocol: "email", endpoint: address });
      });
    }
  }

  /** Grafana's IAM role (read CloudWatch metrics in one region) and how its service account gets it. */
  private grafanaIdentity(cw: CloudWatchOptions): WorkloadRole {
    // "Default" and the previous resource ids: the role, its policy and the association keep their
    // addresses (monitoring_grafana_role_..., monitoring_grafana_cloudwatch_read_..., monitoring_grafana_pod_identity_...).
    return new WorkloadRole(this, "Default", {
      mode: cw.identityMode,
      clusterName: cw.clusterName,
      namespace: this.namespace,
      serviceAccountName: GRAFANA_SERVICE_ACCOUNT,
      roleName: cw.roleName,
      description: `Grafana: read CloudWatch metrics (${this.namespace}/${GRAFANA_SERVICE_ACCOUNT} on ${cw.clusterName})`,
      accountId: cw.accountId,
      region: cw.region,
      oidcProviderArn: cw.oidcProviderArn,
      maxSessionDurationSeconds: 3600,
      inlinePolicies: [{ id: "grafana_cloudwatch_read", name: "grafana-cloudwatch-read", document: grafanaCloudWatchPolicy(cw.region) }],
      // As before, no add-on check of its own: in this project's stack the tracking identity checks the cluster's agent.
      checkPodIdentityAgent: false,
      resourceIds: { role: "grafana_role", association: "grafana_pod_identity" },
      fieldNames: { mode: "cloudWatch.identityMode", oidcProviderArn: "cloudWatch.oidcProviderArn" },
    });
  }
}

/** What Grafana needs for the CloudWatch data source. */
interface GrafanaAws {
  /** The data source's provisioning entry. */
  readonly datasource: Record<string, unknown>;
  /** IRSA: the role annotation; Pod Identity: none. */
  readonly serviceAccountAnnotations: Record<string, string>;
}

/** `undefined` for an empty list, so that no empty `depends_on` is written. */
function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

function serviceMonitor(
  name: string,
  namespace: string,
  labels: Record<string, string>,
  targetNamespace: string,
  serviceLabels: Record<string, string>,
  port: string,
  metricsPath: string,
): Record<string, unknown> {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: { name, namespace, labels },
    spec: {
      namespaceSelector: { matchNames: [targetNamespace] },
      selector: { matchLabels: { ...serviceLabels } },
      endpoints: [{ port, path: metricsPath, scheme: "http", interval: "30s", scrapeTimeout: "10s" }],
    },
  };
}

interface StackValuesInput {
  readonly props: MonitoringProps;
  readonly retentionDays: number;
  readonly storageGb: number;
  readonly thresholds: AlertThresholds;
  readonly alertmanager: AlertmanagerConfig;
  readonly alertmanagerSecrets: string[];
  readonly adminSecretName: string;
  readonly clientSecretRef?: SecretKeyRef;
  readonly grafanaAws?: GrafanaAws;
}

/** kube-prometheus-stack's values, as typed objects (serialized to JSON, which Helm reads as YAML). */
function stackValues(input: StackValuesInput): Record<string, unknown> {
  const { props, storageGb } = input;
  const storageClass = props.storageClassName ? { storageClassName: props.storageClassName } : {};
  // Retention by size keeps the volume below the alert threshold, whatever the ingest rate.
  const retentionFraction = Math.max(0.1, Math.min(0.8, (input.thresholds.volumeFullPercent - 5) / 100));
  const retentionSizeGb = Math.max(1, Math.floor(storageGb * retentionFraction));
  const restricted = {
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
  };

  return {
    crds: { enabled: true },
    nodeExporter: { enabled: props.nodeExporter ?? false },
    prometheus: {
      prometheusSpec: {
        retention: `${input.retentionDays}d`,
        retentionSize: `${retentionSizeGb}GB`,
        // Select ServiceMonitors, PodMonitors, Probes and rules from every namespace, whatever their labels.
        serviceMonitorSelectorNilUsesHelmValues: false,
        podMonitorSelectorNilUsesHelmValues: false,
        ruleSelectorNilUsesHelmValues: false,
        probeSelectorNilUsesHelmValues: false,
        scrapeConfigSelectorNilUsesHelmValues: false,
        serviceMonitorSelector: {},
        serviceMonitorNamespaceSelector: {},
        podMonitorNamespaceSelector: {},
        ruleSelector: {},
        ruleNamespaceSelector: {},
        securityContext: { ...restricted, runAsUser: 1000, runAsGroup: 2000, fsGroup: 2000 },
        storageSpec: {
          volumeClaimTemplate: {
            spec: { ...storageClass, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: `${storageGb}Gi` } } },
          },
        },
      },
    },
    alertmanager: {
      config: input.alertmanager,
      alertmanagerSpec: {
        // Mounted at /etc/alertmanager/secrets/<name>/: the Slack URL and SMTP password are read from files.
        secrets: input.alertmanagerSecrets,
        securityContext: { ...restricted, runAsUser: 1000, runAsGroup: 2000, fsGroup: 2000 },
        storage: {
          volumeClaimTemplate: { spec: { ...storageClass, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "2Gi" } } } },
        },
      },
    },
    grafana: withCloudWatch(grafanaValues(props.grafana, input.adminSecretName, input.clientSecretRef), input.grafanaAws),
  };
}

/** Adds the CloudWatch data source and Grafana's AWS identity to Grafana's values. */
function withCloudWatch(values: Record<string, unknown>, aws: GrafanaAws | undefined): Record<string, unknown> {
  if (!aws) return values;
  const ini = values["grafana.ini"] as Record<string, unknown>;
  return {
    ...values,
    // A fixed name: the Pod Identity association (or the IRSA trust) names this service account.
    serviceAccount: { create: true, name: GRAFANA_SERVICE_ACCOUNT, annotations: aws.serviceAccountAnnotations },
    // kube-prometheus-stack writes these into the datasources ConfigMap that Grafana's sidecar loads.
    additionalDataSources: [aws.datasource],
    "grafana.ini": {
      ...ini,
      // Only the pod's own credentials: no access keys stored in Grafana, no assuming other roles from the UI.
      aws: { allowed_auth_providers: "default", assume_role_enabled: false },
    },
  };
}

function grafanaValues(
  exposure: GrafanaExposureOptions | undefined,
  adminSecretName: string,
  clientSecretRef?: SecretKeyRef,
): Record<string, unknown> {
  const ini: Record<string, unknown> = {
    analytics: { reporting_enabled: false, check_for_updates: false, check_for_plugin_updates: false },
    "auth.anonymous": { enabled: false },
    users: { allow_sign_up: false },
    security: { disable_gravatar: true, cookie_samesite: "lax" },
  };
  const values: Record<string, unknown> = {
    enabled: true,
    // Credentials from the generated Secret: no password in values.
    admin: { existingSecret: adminSecretName, userKey: "admin-user", passwordKey: "admin-password" },
    defaultDashboardsTimezone: "utc",
    sidecar: { dashboards: { enabled: true, label: "grafana_dashboard", labelValue: "1", searchNamespace: "ALL" } },
    service: { type: "ClusterIP" },
    ingress: { enabled: false },
    "grafana.ini": ini,
  };
  if (!exposure) return values;

  const sso = exposure.sso;
  const groupsClaim = sso.groupsClaim ?? "groups";
  const admins = sso.adminGroups ?? [];
  ini.server = { root_url: `https://${exposure.hostname}/`, domain: exposure.hostname, enforce_domain: true };
  ini.security = { ...(ini.security as object), cookie_secure: true, strict_transport_security: true };
  // Sign-in only through the identity provider: no login form, no basic auth over the network.
  ini.auth = { disable_login_form: true, oauth_auto_login: true };
  ini["auth.basic"] = { enabled: false };
  ini["auth.generic_oauth"] = {
    enabled: true,
    name: "Single sign-on",
    client_id: sso.clientId,
    // Grafana expands $__file{...} at start: the secret is read from the mounted Secret, never written here.
    client_secret: `$__file{${OIDC_SECRET_MOUNT}/${clientSecretRef!.key}}`,
    scopes: (sso.scopes ?? ["openid", "email", "profile", "groups"]).join(" "),
    auth_url: sso.authUrl,
    token_url: sso.tokenUrl,
    api_url: sso.userInfoUrl,
    use_pkce: true,
    allow_sign_up: true,
    email_attribute_path: "email",
    login_attribute_path: "preferred_username",
    groups_attribute_path: groupsClaim,
    allowed_groups: (sso.allowedGroups ?? []).join(" "),
    allowed_domains: (sso.allowedEmailDomains ?? []).join(" "),
    role_attribute_path:
      admins.length > 0 ? `${admins.map((g) => `contains(${groupsClaim}[*], '${g}')`).join(" || ")} && 'Admin' || 'Viewer'` : "'Viewer'",
    role_attribute_strict: false,
    allow_assign_grafana_admin: false,
  };
  values.extraSecretMounts = [
    { name: "oidc-client-secret", secretName: clientSecretRef!.name, mountPath: OIDC_SECRET_MOUNT, readOnly: true },
  ];

  if (exposure.kind === "alb") {
    values.ingress = {
      enabled: true,
      ingressClassName: "alb",
      hosts: [exposure.hostname],
      path: "/",
      pathType: "Prefix",
      annotations: {
        "alb.ingress.kubernetes.io/scheme": exposure.scheme ?? "internal",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/listen-ports": JSON.stringify([{ HTTPS: 443 }]),
        "alb.ingress.kubernetes.io/certificate-arn": exposure.certificateArn!,
        "alb.ingress.kubernetes.io/ssl-policy": exposure.sslPolicy ?? "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "alb.ingress.kubernetes.io/healthcheck-path": "/api/health",
        ...(exposure.loadBalancerTags && Object.keys(exposure.loadBalancerTags).length > 0
          ? { "alb.ingress.kubernetes.io/tags": albTagsAnnotation(exposure.loadBalancerTags) }
          : {}),
      },
    };
  } else {
    values.route = {
      main: {
        enabled: true,
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        hostnames: [exposure.hostname],
        parentRefs: [{ name: exposure.gatewayRef!.name, namespace: exposure.gatewayRef!.namespace }],
      },
    };
  }
  return values;
}

function validate(
  scope: Construct,
  props: MonitoringProps,
  mode: string,
  namespace: string,
  retentionDays: number,
  storageGb: number,
): void {
  if (mode !== "install" && mode !== "existing") throw new PropError(scope, "mode", mode, '"install" or "existing"');
  if (!DNS_LABEL.test(namespace)) throw new PropError(scope, "namespace", namespace, 'a DNS label such as "monitoring"');
  if (!Number.isInteger(retentionDays) || retentionDays < 1)
    throw new PropError(scope, "retentionDays", retentionDays, "a whole number of days, at least 1");
  if (!Number.isInteger(storageGb) || storageGb < 1)
    throw new PropError(scope, "storageGb", storageGb, "a whole number of GiB, at least 1");
  if (props.chartVersion !== undefined && !/^\d+\.\d+\.\d+$/.test(props.chartVersion)) {
    throw new PropError(
      scope,
      "chartVersion",
      props.chartVersion,
      'an exact chart version such as "88.5.3" (no ranges: upgrades are deliberate)',
    );
  }
  if (!props.trackingServer.portName)
    throw new PropError(scope, "trackingServer.portName", props.trackingServer.portName, "the name of the Service port serving /metrics");
  if (!props.trackingServer.metricsPath?.startsWith("/"))
    throw new PropError(scope, "trackingServer.metricsPath", props.trackingServer.metricsPath, 'an absolute path such as "/metrics"');
  if (!props.authProxy.metricsPortName) {
    throw new PropError(
      scope,
      "authProxy.metricsPortName",
      props.authProxy.metricsPortName,
      "the name of the proxy Service's metrics port (oauth2-proxy --metrics-address)",
    );
  }
  const scraped: [string, Record<string, string> | undefined][] = [
    ["trackingServer.serviceLabels", props.trackingServer.serviceLabels],
    ["authProxy.serviceLabels", props.authProxy.serviceLabels],
    ...(props.rolloutsController
      ? [["rolloutsController.serviceLabels", props.rolloutsController.serviceLabels] as [string, Record<string, string>]]
      : []),
  ];
  for (const [field, labels] of scraped) {
    if (Object.keys(labels ?? {}).length === 0)
      throw new PropError(scope, field, labels, "at least one label of the Service (an empty selector would scrape every Service)");
  }
  if (props.slack && !props.slack.webhookSecretName)
    throw new PropError(scope, "slack.webhookSecretName", props.slack.webhookSecretName, "the Secret holding the webhook URL");
  if (props.email) {
    if (props.email.to.length === 0) throw new PropError(scope, "email.to", props.email.to, "at least one address");
    if (props.email.authUsername && !props.email.authPasswordSecretName) {
      throw new PropError(
        scope,
        "email.authPasswordSecretName",
        undefined,
        "the Secret holding the SMTP password when email.authUsername is set",
      );
    }
  }
  const cw = props.cloudWatch;
  if (cw) {
    if (mode !== "install") {
      throw new PropError(
        scope,
        "cloudWatch",
        cw.dbInstanceIdentifier,
        'no CloudWatch data source in "existing" mode (this construct installs no Grafana there: add the data source to your Grafana as the README describes)',
      );
    }
    const known = (v: string | undefined) => v !== undefined && !Token.isUnresolved(v);
    if (!/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/.test(cw.region ?? ""))
      throw new PropError(scope, "cloudWatch.region", cw.region, 'an AWS region such as "eu-west-1"');
    if (known(cw.dbInstanceIdentifier) && !/^[a-z][a-z0-9-]{0,62}$/.test(cw.dbInstanceIdentifier)) {
      throw new PropError(
        scope,
        "cloudWatch.dbInstanceIdentifier",
        cw.dbInstanceIdentifier,
        "an RDS instance identifier (lower-case letters, digits and '-', starting with a letter)",
      );
    }
    if (!cw.dbInstanceIdentifier)
      throw new PropError(scope, "cloudWatch.dbInstanceIdentifier", cw.dbInstanceIdentifier, "the backend store's DB instance identifier");
    if (!cw.bucketName || (known(cw.bucketName) && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(cw.bucketName))) {
      throw new PropError(
        scope,
        "cloudWatch.bucketName",
        cw.bucketName,
        "the artifact bucket's name (3-63 lower-case letters, digits, '.' or '-')",
      );
    }
    if (known(cw.accountId) && !/^\d{12}$/.test(cw.accountId))
      throw new PropError(scope, "cloudWatch.accountId", cw.accountId, "a 12-digit AWS account id");
    if (!cw.clusterName) throw new PropError(scope, "cloudWatch.clusterName", cw.clusterName, "the EKS cluster Grafana runs on");
    if (!/^[\w+=,.@-]{1,64}$/.test(cw.roleName ?? ""))
      throw new PropError(scope, "cloudWatch.roleName", cw.roleName, "1-64 characters of letters, digits and +=,.@_- (an IAM role name)");
    const identityMode = cw.identityMode ?? "pod-identity";
    if (identityMode !== "pod-identity" && identityMode !== "irsa")
      throw new PropError(scope, "cloudWatch.identityMode", identityMode, '"pod-identity" or "irsa"');
    if (identityMode === "irsa" && !OIDC_PROVIDER_ARN.test(cw.oidcProviderArn ?? "")) {
      throw new PropError(
        scope,
        "cloudWatch.oidcProviderArn",
        cw.oidcProviderArn,
        'the cluster\'s IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>) when identityMode is "irsa"',
      );
    }
    if (cw.datasourceUid !== undefined && !/^[a-zA-Z0-9_-]{1,40}$/.test(cw.datasourceUid)) {
      throw new PropError(scope, "cloudWatch.datasourceUid", cw.datasourceUid, "1-40 letters, digits, '-' or '_' (a Grafana uid)");
    }
  }
  const g = props.grafana;
  if (g) {
    if (mode !== "install")
      throw new PropError(
        scope,
        "grafana",
        g.hostname,
        'no Grafana exposure in "existing" mode (this construct installs no Grafana there)',
      );
    if (!g.sso)
      throw new PropError(scope, "grafana.sso", g.sso, "a sign-in configuration: Grafana is never exposed without authentication");
    if (g.kind === "alb" && !g.certificateArn)
      throw new PropError(scope, "grafana.certificateArn", g.certificateArn, "the ACM certificate for the Grafana hostname");
    if (g.kind === "gateway-api" && !g.gatewayRef)
      throw new PropError(scope, "grafana.gatewayRef", g.gatewayRef, "the Gateway (namespace and name) the HTTPRoute attaches to");
    if ((g.sso.allowedGroups ?? []).length === 0 && (g.sso.allowedEmailDomains ?? []).length === 0) {
      throw new PropError(
        scope,
        "grafana.sso.allowedGroups",
        g.sso.allowedGroups ?? [],
        "at least one allowed group or e-mail domain: sign-in is denied by default",
      );
    }
    for (const f of ["authUrl", "tokenUrl", "userInfoUrl"] as const) {
      if (!/^https:\/\//.test(g.sso[f] ?? ""))
        throw new PropError(scope, `grafana.sso.${f}`, g.sso[f], "an https:// URL from the issuer's discovery document");
    }
  }
}
