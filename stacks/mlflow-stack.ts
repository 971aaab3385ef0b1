import { TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import type { EnvironmentConfig } from "../config";
import { configureBackend, configureProviders, type ClusterAccess } from "./providers";
import { ArtifactStore } from "../constructs/artifact-store";
import { artifactStoreProps } from "../constructs/artifact-store/from-config";
import { BackendStore } from "../constructs/backend-store";
import { backendStoreProps } from "../constructs/backend-store/from-config";
import { TrackingIdentity } from "../constructs/tracking-server/identity";
import { TrackingServer, trackingServerPodLabels } from "../constructs/tracking-server";
import { trackingIdentityProps, trackingInstance, trackingServerProps } from "../constructs/tracking-server/from-config";
import { RegistryEvents } from "../constructs/registry-events";
import { registryEventsProps } from "../constructs/registry-events/from-config";
import { AuthProxy } from "../constructs/auth-proxy";
import { authProxyPodLabelsOf, authProxyProps, workloadIdentitiesOf } from "../constructs/auth-proxy/from-config";
import { MlflowIngress } from "../constructs/ingress";
import { mlflowIngressProps } from "../constructs/ingress/from-config";
import { LoadBalancerController } from "../constructs/load-balancer-controller";
import { loadBalancerControllerProps } from "../constructs/load-balancer-controller/from-config";
import { Monitoring } from "../constructs/monitoring";
import { monitoringProps } from "../constructs/monitoring/from-config";
import { ModelEndpoint } from "../constructs/model-endpoint";
import { modelApiFromConfig, modelEndpointProps, modelGatewayFromConfig } from "../constructs/model-endpoint/from-config";
import { ArgoRollouts } from "../constructs/argo-rollouts";
import { argoRolloutsProps } from "../constructs/argo-rollouts/from-config";
import { applyPolicies, takePolicyCheckedJson } from "../policies";
import { modelRetentionPodLabels } from "../constructs/model-retention/command";
import { ModelRetention } from "../constructs/model-retention";
import { modelRetentionProps } from "../constructs/model-retention/from-config";
import { NetworkPolicies } from "../constructs/network-policies";
import { networkPoliciesProps } from "../constructs/network-policies/from-config";
import { Training } from "../constructs/training";
import { trainingProps } from "../constructs/training/from-config";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import {
  WORKLOAD_IDENTITIES_CONFIGMAP,
  WORKLOAD_IDENTITIES_KEY,
  workloadIdentitiesFileContent,
} from "../constructs/auth-proxy/oauth2-proxy-command";
import { DriftJob } from "../constructs/drift-job";
import { driftJobModels, driftJobPodLabels, driftJobsConfigured } from "../constructs/drift-job/command";
import { driftJobProps } from "../constructs/drift-job/from-config";
import { managedLabels, RESTRICTED_POD_SECURITY } from "../constructs/core/labels";
export { driftJobModels, driftJobsConfigured };
import { installsRolloutsController } from "../config/serving";
import { imageCopyGrants } from "../config/image-copies";

import { CiRoles } from "../constructs/ci-roles";
import { artifactBucketNames, ciRolesProps, workloadBoundaryName } from "../constructs/ci-roles/from-config";
import { applyBoundary, WorkloadBoundary } from "../constructs/core/permissions-boundary";

/**
 * The Terraform versions every stack needs: the S3 backend's native lock file (`use_lockfile`) exists
 * from 1.10 on; 2.x may change the JSON syntax cdktf writes.
 */
export const TERRAFORM_REQUIRED_VERSION = ">= 1.10.0, < 2.0.0";

/** The name of an environment's stack: `cdktf deploy mlflow-prod`. */
export function stackName(config: EnvironmentConfig): string {
  return `${config.project}-${config.name}`;
}

/** Options of {@link MlflowStack}. */
export interface MlflowStackOptions {
  /**
   * Every environment of the configuration (this one included): the model release pipeline copies released
   * images between them, and each stack grants its part of those copies (config/image-copies.ts).
   * @default [config] (no copy to or from another environment)
   */
  readonly environments?: readonly EnvironmentConfig[];
}

/**
 * Everything one environment needs, in its own Terraform state: providers, backend, and the platform's
 * constructs wired to each other through small typed contracts (constructs/core/contracts.ts).
 */
export class MlflowStack extends TerraformStack {
  readonly config: EnvironmentConfig;
  readonly access: ClusterAccess;
  /** The namespace of the tracking server, its jobs, its secrets and the proxy. */
  readonly namespace: NamespaceV1;

  constructor(scope: Construct, config: EnvironmentConfig, options: MlflowStackOptions = {}) {
    super(scope, stackName(config));
    this.config = config;
    // This environment's part of the release pipeline's image copies: who pulls from its repositories, what it pulls from.
    const copies = imageCopyGrants(options.environments ?? [config], config.name, config);
    // An older Terraform would ignore use_lockfile and run without a state lock: refuse it instead.
    this.addOverride("terraform.required_version", TERRAFORM_REQUIRED_VERSION);
    configureBackend(this, config);
    this.access = configureProviders(this, config);

    this.namespace = new NamespaceV1(this, "namespace", {
      metadata: {
        name: config.mlflow.namespace,
        labels: {
          ...managedLabels(config.project),
          // Every pod in the namespace must meet the "restricted" Pod Security Standard.
          ...RESTRICTED_POD_SECURITY,
          // The AWS Load Balancer Controller adds a readiness gate to the proxy's pods, so a rollout
          // waits until the ALB sends traffic to a new pod before an old one stops (no 502s).
          ...(config.ingress.kind === "alb" ? { "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled" } : {}),
        },
      },
    });

    // ── Stores and identity ──────────────────────────────────────────────
    const artifactStore = new ArtifactStore(this, "artifact_store", artifactStoreProps(config));
    const clusterVpc = this.access.cluster.vpcConfig.get(0);
    const backendStore = new BackendStore(
      this,
      "backend_store",
      backendStoreProps(config, {
        identifier: stackName(config),
        namespace: this.namespace.metadata.name,
        vpcId: clusterVpc.vpcId,
        subnetIds: config.cluster.privateSubnetIds,
        clientSecurityGroupId: config.cluster.clientSecurityGroupId ?? clusterVpc.clusterSecurityGroupId,
      }),
    );
    const identity = new TrackingIdentity(
      this,
      "tracking_identity",
      trackingIdentityProps(config, stackName(config), {
        artifacts: artifactStore.contract,
        artifactPrefix: artifactStore.prefix,
      }),
    );
    // The ceiling of every role the stack creates for its workloads; only an administrator changes it.
    const boundary = new WorkloadBoundary(this, "workload_boundary", {
      name: workloadBoundaryName(config),
      bucketNames: artifactBucketNames(config),
      region: config.aws.region,
    });
    // Synth-time policy checks over everything in this stack (policies/index.ts).
    applyPolicies(this);

    // ── Registry events ─────────────────────────────────────────────────
    // Before the tracking server: it reads the webhook-secret encryption key this construct generates.
    const registryEvents = config.events.enabled
      ? new RegistryEvents(
          this,
          "registry_events",
          registryEventsProps(config, {
            trackingServer: {
              namespace: config.mlflow.namespace,
              port: config.mlflow.port,
              podLabels: trackingServerPodLabels(trackingInstance(config)),
            },
            dependsOn: [this.namespace],
          }),
        )
      : undefined;

    // ── Tracking server ──────────────────────────────────────────────────
    const trackingServer = new TrackingServer(
      this,
      "tracking_server",
      trackingServerProps(config, {
        artifactStore: artifactStore.contract,
        backendStore: backendStore.contract,
        identity: identity.contract,
        // The one place that decides who may reach MLflow: the proxy, monitoring, the gc, retention and drift jobs
        // (and the registry events service, where it is on: trackingServerProps adds it).
        authProxyPodLabels: authProxyPodLabelsOf(config),
        apiClientPodLabels: [modelRetentionPodLabels(config), ...(driftJobsConfigured(config) ? [driftJobPodLabels(config)] : [])],
        // Pods must not start before their credentials exist: the database Secret and, with Pod
        // Identity, the association (a pod started earlier runs without AWS credentials until restarted).
        dependsOn: [
          this.namespace,
          backendStore.kubernetesSecret,
          ...(identity.association ? [identity.association] : []),
          ...(registryEvents ? [registryEvents.generatedSecret] : []),
        ],
      }),
    );

    // ── Model retention ─────────────────────────────────────────────────
    new ModelRetention(
      this,
      "model_retention",
      modelRetentionProps(config, stackName(config), {
        artifactStore: artifactStore.contract,
        artifactPrefix: artifactStore.prefix,
        dependsOn: [this.namespace],
      }),
    );

    // ── Training pipelines: Argo Workflows, the WorkflowTemplate, the workloads' identities ──
    const workloads = workloadIdentitiesOf(config);
    const workloadSubjects = workloads
      ? new ConfigMapV1(this, "workload_identities", {
          metadata: { name: WORKLOAD_IDENTITIES_CONFIGMAP, namespace: config.mlflow.namespace },
          data: { [WORKLOAD_IDENTITIES_KEY]: workloadIdentitiesFileContent(workloads.subjects) },
          dependsOn: [this.namespace],
        })
      : undefined;
    const training = config.training.enabled
      ? new Training(this, "training", trainingProps(config, stackName(config), { artifactStore: artifactStore.contract }))
      : undefined;

    // ── Authenticating proxy and ingress ─────────────────────────────────
    const authProxy = new AuthProxy(
      this,
      "auth_proxy",
      authProxyProps(config, {
        trackingServer: trackingServer.contract,
        dependsOn: [this.namespace, ...(workloadSubjects ? [workloadSubjects] : [])],
      }),
    );
    const loadBalancerController = config.ingress.installLoadBalancerController
      ? new LoadBalancerController(
          this,
          "load_balancer_controller",
          loadBalancerControllerProps(config, stackName(config), {
            vpcId: this.access.cluster.vpcConfig.get(0).vpcId,
          }),
        )
      : undefined;
    // The only public entry: it targets the proxy, never the tracking server.
    new MlflowIngress(
      this,
      "ingress",
      mlflowIngressProps(config, {
        target: authProxy.contract,
        dependsOn: [authProxy.service, ...(loadBalancerController ? [loadBalancerController.release] : [])],
      }),
    );

    // ── Monitoring and alerting ──────────────────────────────────────────
    const monitoring = new Monitoring(
      this,
      "monitoring",
      monitoringProps(config, {
        trackingServer: trackingServer.contract,
        authProxy: authProxy.contract,
        registryEvents: registryEvents?.contract,
        // The RDS alarms reach the alert recipients too (those not already in notifications.emails).
        alarmTopicArn: backendStore.alarmTopicArn,
        // The RDS and S3 figures on Grafana's "Database and artifacts" dashboard (CloudWatch, install mode).
        dbInstanceIdentifier: backendStore.instance.identifier,
        dbReplicaIdentifier: backendStore.replica?.identifier,
        artifactBucketName: artifactStore.contract.bucketName,
      }),
    );

    // ── Model serving: one ModelEndpoint per served model ───────────────────────────
    // Everything here but the models' own objects depends on configuration only, never on a release
    // (config/releases/<env>.json): the platform deploy installs the controller, the API and each configured
    // model's route and target group; a release changes its model's objects and nothing else.
    const endpoints = Object.entries(modelEndpointProps(config, stackName(config), artifactStore.contract));
    let servingNamespace: NamespaceV1 | undefined;
    let rolloutsNamespace: NamespaceV1 | undefined;
    const imagePushPolicyArns: string[] = [];
    if (endpoints.length > 0) {
      servingNamespace =
        config.serving.namespace === config.mlflow.namespace
          ? this.namespace
          : new NamespaceV1(this, "serving_namespace", {
              metadata: {
                name: config.serving.namespace,
                labels: {
                  ...managedLabels(config.project),
                  ...RESTRICTED_POD_SECURITY,
                },
              },
            });
      // Blue-green / canary releases need the Argo Rollouts controller and its CRDs before the first Rollout.
      const rollouts = installsRolloutsController(config) ? new ArgoRollouts(this, "argo_rollouts", argoRolloutsProps(config)) : undefined;
      rolloutsNamespace = rollouts?.namespace;
      // How applications reach them (serving.exposure): API Gateway first (the endpoints bind to its target groups).
      const api = modelApiFromConfig(this, config, stackName(config), {
        vpcId: clusterVpc.vpcId,
        alarmTopicArn: backendStore.alarmTopicArn,
        modelNames: endpoints.map(([m]) => m),
      });
      for (const [modelName, props] of endpoints) {
        const endpoint = new ModelEndpoint(this, `model_${modelName.replace(/-/g, "_")}`, {
          ...props,
          targetGroupArn: api?.targetGroupArns[modelName],
          pullerRoleArns: copies.pullersByModel[modelName] ?? [],
          dependsOn: [servingNamespace, ...(rollouts ? [rollouts.release] : [])],
        });
        // Every endpoint of an AWS stack makes its ECR repository, and with it the push policy.
        if (endpoint.pushPolicy) imagePushPolicyArns.push(endpoint.pushPolicy.arn);
        modelGatewayFromConfig(this, config, stackName(config), modelName, endpoint);
        // Scheduled drift detection of the released version, beside the tracking server it logs to.
        if (driftJobModels(config).includes(modelName)) {
          new DriftJob(
            this,
            `drift_${modelName.replace(/-/g, "_")}`,
            driftJobProps(config, stackName(config), modelName, {
              artifactStore: artifactStore.contract,
              dependsOn: [this.namespace],
            }),
          );
        }
      }
    }

    // ── Default-deny networking: every namespace this stack creates ──────
    const created: [string, NamespaceV1][] = [[config.mlflow.namespace, this.namespace]];
    if (servingNamespace && servingNamespace !== this.namespace) created.push([config.serving.namespace, servingNamespace]);
    const monitoringNamespace = monitoring.node.tryFindChild("namespace") as NamespaceV1 | undefined;
    if (monitoringNamespace) created.push([config.monitoring.namespace, monitoringNamespace]);
    if (training) created.push([config.training.namespace, training.namespace]);
    if (training?.argoNamespace) created.push([config.training.argo.namespace, training.argoNamespace]);
    if (rolloutsNamespace) created.push([config.serving.delivery.controllerNamespace, rolloutsNamespace]);
    new NetworkPolicies(this, "network_policies", {
      ...networkPoliciesProps(config, { namespaces: created.map(([name]) => name) }),
      dependsOn: created.map(([, resource]) => resource),
    });

    // ── GitHub Actions' roles, assumed with GitHub's OIDC token (docs/ci-cd.md) ──
    const ciProps = ciRolesProps(config, {
      imagePushPolicyArns,
      workloadBoundaryArn: boundary.arn,
      imageSourceRepositoryArns: copies.sourceRepositoryArns,
    });
    const ciRoles = ciProps ? new CiRoles(this, "ci_roles", ciProps) : undefined;

    // ── Every role the stack creates carries the workload boundary, but the plan and deploy roles, which
    // only an administrator applies and the deploy role may not touch (constructs/core/permissions-boundary.ts).
    applyBoundary(this, boundary.arn, (role) => role === ciRoles?.planRole || role === ciRoles?.deployRole);
  }

  /**
   * The stack's Terraform JSON: the policy pack has just resolved and checked it in this synthesis, so it is
   * taken from there rather than resolved a second time (policies/index.ts, `takePolicyCheckedJson`).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- cdktf's own signature
  override toTerraform(): any {
    return takePolicyCheckedJson(this) ?? super.toTerraform();
  }
}
