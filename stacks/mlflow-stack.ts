import { TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import type { EnvironmentConfig } from "../config";
import { configureBackend, configureProviders, type ClusterAccess } from "./providers";
import { ArtifactStore } from "../constructs/artifact-store";
import { BackendStore } from "../constructs/backend-store";
import { TrackingIdentity } from "../constructs/tracking-identity";
import { TrackingServer, trackingServerPodLabels } from "../constructs/tracking-server";
import { RegistryEvents, registryEventsProps } from "../constructs/registry-events";
import { authProxyPodLabels } from "../constructs/commands/oauth2-proxy";
import { AuthProxy } from "../constructs/auth-proxy";
import { MlflowIngress } from "../constructs/ingress";
import { LoadBalancerController } from "../constructs/load-balancer-controller";
import { Monitoring } from "../constructs/monitoring";
import { monitoringProps } from "../constructs/monitoring/from-config";
import { ModelEndpoint } from "../constructs/model-endpoint";
import { modelEndpointProps } from "../constructs/model-endpoint/from-config";
import { applyPolicies } from "../policies";
import { ARCHIVE_TAG, modelRetentionPodLabels, retentionCommand } from "../constructs/commands/retention";
import { ModelRetention } from "../constructs/model-retention";
import { CiRoles } from "../constructs/ci-roles";
import { ciRolesProps } from "../constructs/ci-roles/from-config";

/**
 * The Terraform versions every stack needs: the S3 backend's native lock file (`use_lockfile`) exists
 * from 1.10 on; 2.x may change the JSON syntax cdktf writes.
 */
export const TERRAFORM_REQUIRED_VERSION = ">= 1.10.0, < 2.0.0";

/** The name of an environment's stack: `cdktf deploy mlflow-prod`. */
export function stackName(config: EnvironmentConfig): string {
  return `${config.project}-${config.name}`;
}

/**
 * Everything one environment needs, in its own Terraform state: providers, backend, and the platform's
 * constructs wired to each other through small typed contracts (constructs/contracts.ts).
 */
export class MlflowStack extends TerraformStack {
  readonly config: EnvironmentConfig;
  readonly access: ClusterAccess;
  /** The namespace of the tracking server, its jobs, its secrets and the proxy. */
  readonly namespace: NamespaceV1;

  constructor(scope: Construct, config: EnvironmentConfig) {
    super(scope, stackName(config));
    this.config = config;
    // An older Terraform would ignore use_lockfile and run without a state lock: refuse it instead.
    this.addOverride("terraform.required_version", TERRAFORM_REQUIRED_VERSION);
    configureBackend(this, config);
    this.access = configureProviders(this, config);

    this.namespace = new NamespaceV1(this, "namespace", {
      metadata: {
        name: config.mlflow.namespace,
        labels: {
          "app.kubernetes.io/part-of": config.project,
          "app.kubernetes.io/managed-by": "cdktf",
          // Every pod in the namespace must meet the "restricted" Pod Security Standard.
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
          // The AWS Load Balancer Controller adds a readiness gate to the proxy's pods, so a rollout
          // waits until the ALB sends traffic to a new pod before an old one stops (no 502s).
          ...(config.ingress.kind === "alb" ? { "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled" } : {}),
        },
      },
    });

    // ── Stores and identity (issue 3) ──────────────────────────────────────────────
    const artifactCfg = config.artifacts;
    const dbCfg = config.database;
    const artifactStore = new ArtifactStore(this, "artifact_store", {
      bucketName: artifactCfg.bucketName ?? `${config.project}-${config.name}-artifacts-${config.aws.accountId}`,
      prefix: artifactCfg.prefix,
      forceDestroy: artifactCfg.forceDestroy,
      preventDestroy: config.production,
      lifecycle: {
        transitionToInfrequentAccessDays: artifactCfg.transitionToInfrequentAccessDays,
        transitionToGlacierIrDays: artifactCfg.transitionToGlacierIrDays,
        expireDays: artifactCfg.expireDays,
        noncurrentVersionsToKeep: artifactCfg.noncurrentVersionsToKeep,
        noncurrentExpireDays: artifactCfg.noncurrentExpireDays,
        noncurrentMaxDays: artifactCfg.noncurrentMaxDays,
        abortIncompleteMultipartUploadDays: artifactCfg.abortIncompleteMultipartUploadDays,
      },
      // The model-retention job's tag (issue 12): a colder class after the grace period, deletion only if configured.
      archive: {
        tag: ARCHIVE_TAG,
        transitionDays: config.registry.retention.graceDays,
        storageClass: config.registry.retention.storageClass,
        expireDays: config.registry.retention.deleteAfterDays,
      },
      accessLogging: artifactCfg.accessLogging,
      replicationRegion: artifactCfg.replicationRegion,
      region: config.aws.region,
      accountId: config.aws.accountId,
    });
    const clusterVpc = this.access.cluster.vpcConfig.get(0);
    const backendStore = new BackendStore(this, "backend_store", {
      identifier: stackName(config),
      accountId: config.aws.accountId,
      region: config.aws.region,
      namespace: this.namespace.metadata.name,
      vpcId: clusterVpc.vpcId,
      subnetIds: config.cluster.privateSubnetIds,
      clientSecurityGroupId: config.cluster.clientSecurityGroupId ?? clusterVpc.clusterSecurityGroupId,
      engineVersion: dbCfg.engineVersion,
      instanceClass: dbCfg.instanceClass,
      allocatedStorageGb: dbCfg.allocatedStorageGb,
      maxAllocatedStorageGb: dbCfg.maxAllocatedStorageGb,
      multiAz: dbCfg.multiAz,
      deletionProtection: dbCfg.deletionProtection,
      finalSnapshot: dbCfg.finalSnapshot,
      backupRetentionDays: dbCfg.backupRetentionDays,
      preventDestroy: config.production,
      readReplica: dbCfg.readReplica,
      databaseName: dbCfg.name,
      backupWindow: dbCfg.backupWindow,
      maintenanceWindow: dbCfg.maintenanceWindow,
      monitoringIntervalSeconds: dbCfg.monitoringIntervalSeconds,
      slowStatementMs: dbCfg.slowStatementMs,
      logRetentionDays: config.production ? 90 : 30,
      alarmEmails: config.notifications.emails,
      alarmWebhookUrl: config.notifications.webhookUrl,
    });
    const identity = new TrackingIdentity(this, "tracking_identity", {
      mode: config.identity.mode,
      clusterName: config.cluster.name,
      namespace: config.mlflow.namespace,
      roleName: `${stackName(config)}-tracking-server`,
      accountId: config.aws.accountId,
      region: config.aws.region,
      oidcProviderArn: config.cluster.oidcProviderArn,
      artifacts: artifactStore.contract,
      artifactPrefix: artifactStore.prefix,
    });
    // Synth-time policy checks over everything in this stack (policies/index.ts).
    applyPolicies(this);

    // ── Registry events (issue 12) ─────────────────────────────────────────────────
    // Before the tracking server: it reads the webhook-secret encryption key this construct generates.
    const registryEvents = config.events.enabled
      ? new RegistryEvents(this, "registry_events", registryEventsProps(config, {
        trackingServer: { namespace: config.mlflow.namespace, port: config.mlflow.port, podLabels: trackingServerPodLabels(config) },
        dependsOn: [this.namespace],
      }))
      : undefined;

    // ── Tracking server (issue 4) ──────────────────────────────────────────────────
    const trackingServer = new TrackingServer(this, "tracking_server", {
      config,
      artifactStore: artifactStore.contract,
      backendStore: backendStore.contract,
      identity: identity.contract,
      // The one place that decides who may reach MLflow: the proxy, monitoring, the gc and retention jobs.
      authProxyPodLabels: authProxyPodLabels(config),
      apiClientPodLabels: [modelRetentionPodLabels(config)],
      monitoringNamespace: config.monitoring.namespace,
      prometheusPodLabels: config.monitoring.prometheusPodLabels,
      // Pods must not start before their credentials exist: the database Secret and, with Pod
      // Identity, the association (a pod started earlier runs without AWS credentials until restarted).
      dependsOn: [
        this.namespace, backendStore.kubernetesSecret, ...(identity.association ? [identity.association] : []),
        ...(registryEvents ? [registryEvents.generatedSecret] : []),
      ],
    });

    // ── Model retention (issue 12) ─────────────────────────────────────────────────
    new ModelRetention(this, "model_retention", {
      namespace: config.mlflow.namespace,
      name: `${config.project}-model-retention`,
      command: retentionCommand({ config, artifactStore: artifactStore.contract }),
      schedule: config.registry.retention.schedule,
      podLabels: modelRetentionPodLabels(config),
      labels: { "app.kubernetes.io/part-of": config.project, "app.kubernetes.io/managed-by": "cdktf" },
      bucketArn: artifactStore.contract.bucketArn,
      artifactPrefix: artifactStore.prefix,
      clusterName: config.cluster.name,
      accountId: config.aws.accountId,
      region: config.aws.region,
      roleName: `${stackName(config)}-model-retention`,
      identityMode: config.identity.mode,
      oidcProviderArn: config.cluster.oidcProviderArn,
      dependsOn: [this.namespace],
    });

    // ── Authenticating proxy and ingress (issue 5) ─────────────────────────────────
    const authProxy = new AuthProxy(this, "auth_proxy", {
      config,
      trackingServer: trackingServer.contract,
      monitoringNamespace: config.monitoring.namespace,
      prometheusPodLabels: config.monitoring.prometheusPodLabels,
      dependsOn: [this.namespace],
    });
    const loadBalancerController = config.ingress.installLoadBalancerController
      ? new LoadBalancerController(this, "load_balancer_controller", {
        clusterName: config.cluster.name,
        region: config.aws.region,
        vpcId: this.access.cluster.vpcConfig.get(0).vpcId,
        accountId: config.aws.accountId,
        identityMode: config.identity.mode,
        oidcProviderArn: config.cluster.oidcProviderArn,
        roleName: `${stackName(config)}-aws-load-balancer-controller`,
      })
      : undefined;
    // The only public entry: it targets the proxy, never the tracking server.
    new MlflowIngress(this, "ingress", {
      config,
      target: authProxy.contract,
      dependsOn: [authProxy.service, ...(loadBalancerController ? [loadBalancerController.release] : [])],
    });

    // ── Monitoring and alerting (issue 6) ──────────────────────────────────────────
    new Monitoring(this, "monitoring", monitoringProps(config, {
      trackingServer: trackingServer.contract,
      authProxy: authProxy.contract,
      registryEvents: registryEvents?.contract,
      // The RDS alarms reach the alert recipients too (those not already in notifications.emails).
      alarmTopicArn: backendStore.alarmTopicArn,
      // The RDS and S3 figures on Grafana's "Database and artifacts" dashboard (CloudWatch, install mode).
      dbInstanceIdentifier: backendStore.instance.identifier,
      dbReplicaIdentifier: backendStore.replica?.identifier,
      artifactBucketName: artifactStore.contract.bucketName,
    }));

    // ── Model serving (issue 13): one ModelEndpoint per served model ─────────────────
    const endpoints = Object.entries(modelEndpointProps(config, stackName(config)));
    const imagePushPolicyArns: string[] = [];
    if (endpoints.length > 0) {
      const servingNamespace = config.serving.namespace === config.mlflow.namespace ? this.namespace : new NamespaceV1(this, "serving_namespace", {
        metadata: {
          name: config.serving.namespace,
          labels: {
            "app.kubernetes.io/part-of": config.project,
            "app.kubernetes.io/managed-by": "cdktf",
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
          },
        },
      });
      for (const [modelName, props] of endpoints) {
        const endpoint = new ModelEndpoint(this, `model_${modelName.replace(/-/g, "_")}`, { ...props, dependsOn: [servingNamespace] });
        imagePushPolicyArns.push(endpoint.pushPolicy.arn);
      }
    }

    // ── GitHub Actions' roles, assumed with GitHub's OIDC token (issue 15, docs/ci-cd.md) ──
    const ciProps = ciRolesProps(config, { imagePushPolicyArns });
    if (ciProps) new CiRoles(this, "ci_roles", ciProps);
  }
}
