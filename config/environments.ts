/**
 * The environments this repository deploys. Forking for another AWS account, or adding an environment,
 * is an edit of this file only: `shared` holds what every environment has in common, and each entry
 * in `environments` overrides what differs. Values are validated by `config/schema.ts` when the app
 * starts; see the README's configuration reference for every field and its default.
 *
 * The account ids, hostnames, issuer and ARNs below are placeholders: replace them with your own.
 */
import type { DeepPartial } from "./merge";
import type { EnvironmentInput } from "./schema";
// Released model versions and image digests: the files a release pipeline changes (config/releases/README.md).
import devReleases from "./releases/dev.json";
import prodReleases from "./releases/prod.json";
import stagingReleases from "./releases/staging.json";

/** Values written once for every environment; an environment's entry overrides any of them. */
export const shared: DeepPartial<EnvironmentInput> = {
  project: "mlflow",
  tags: { "cost-center": "ml-platform" },
  aws: { region: "eu-west-1" },
  // One state bucket per account ({account} is aws.accountId), created by `npm run bootstrap -- <env>` (docs/stores.md).
  state: { backend: "s3", bucket: "example-org-terraform-state-{account}", key: "mlflow/{env}/terraform.tfstate" },
  cluster: { auth: "exec" },
  identity: { mode: "pod-identity" },
  artifacts: {
    prefix: "mlartifacts",
    transitionToInfrequentAccessDays: 30,
    transitionToGlacierIrDays: 90,
    noncurrentVersionsToKeep: 3,
    noncurrentExpireDays: 30,
    abortIncompleteMultipartUploadDays: 3,
  },
  database: {
    engineVersion: "17",
    instanceClass: "db.t4g.small",
    allocatedStorageGb: 20,
    maxAllocatedStorageGb: 100,
    multiAz: false,
    deletionProtection: true,
    finalSnapshot: true,
    backupRetentionDays: 7,
  },
  mlflow: {
    version: "3.17.2",
    namespace: "mlflow",
    workers: 2,
    replicas: { min: 2, max: 4 },
    resources: { requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "2Gi" } },
    gc: { schedule: "30 3 * * *", olderThanDays: 30 },
  },
  auth: {
    proxyVersion: "7.15.6",
    issuerUrl: "https://login.example.com/realms/ml",
    allowedEmailDomains: ["example.com"],
    replicas: { min: 2, max: 4 },
    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
  },
  ingress: {
    kind: "alb",
    scheme: "internal",
    certificateDomains: ["*.example.com"],
    vpcCidrs: ["10.0.0.0/16"],
    idleTimeoutSeconds: 600,
  },
  monitoring: { mode: "install", namespace: "monitoring", retentionDays: 15, storageGb: 50 },
  notifications: { emails: ["ml-platform@example.com"] },
  // Who may approve a promotion to production (the groups claim of their ID token): see docs/model-registry.md.
  registry: { approverGroups: ["ml-approvers"] },
  // The GitHub repository whose workflows may assume each account's CI roles (docs/ci-cd.md): your fork's.
  ci: { repository: "example-org/mlflow-platform" },
};

/** One entry per environment. The stack for entry `x` is named `<project>-x` (e.g. `mlflow-dev`). */
export const environments: DeepPartial<EnvironmentInput>[] = [
  {
    name: "dev",
    aws: { accountId: "111111111111" },
    // Every merge to main applies dev's plan at once; the other environments wait for a reviewer.
    ci: { autoDeploy: true },
    cluster: { name: "ml-dev" },
    hostname: "mlflow-dev.example.com",
    artifacts: { forceDestroy: true },
    database: {
      instanceClass: "db.t4g.micro",
      maxAllocatedStorageGb: 50,
      deletionProtection: false,
      finalSnapshot: false,
      backupRetentionDays: 1,
    },
    mlflow: { replicas: { min: 1, max: 2 } },
    auth: {
      clientId: "mlflow-dev",
      // Create it before the first deploy: aws secretsmanager create-secret --name mlflow-dev/oidc-client-secret ...
      clientSecret: {
        source: "secrets-manager",
        secretArn: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:mlflow-dev/oidc-client-secret-AbCdEf",
      },
      replicas: { min: 1, max: 2 },
    },
    ingress: { certificateArn: "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000001" },
    // Development alerts go nowhere, deliberately (a production environment must name a receiver).
    monitoring: { retentionDays: 7, storageGb: 20, alertsReachNobody: true },
    serving: {
      // The workflow's example model (examples/train.py); the end-to-end run registers and serves it.
      models: {
        "iris-classifier": {
          replicas: { min: 1, max: 2 },
          classNames: ["setosa", "versicolor", "virginica"],
          smokeTest: { row: [5.1, 3.5, 1.4, 0.2], expectLabel: "setosa" },
          // Inference observability (docs/inference-observability.md): the inputs as examples/train.py names
          // them, callers' request context logged under obfuscation rules, drift checked nightly.
          inputFields: ["sepal_length", "sepal_width", "petal_length", "petal_width"],
          inferenceLog: {
            enabled: true,
            sampling: 1,
            contextFields: ["customer_id", "customer_email", "account_number", "age", "comment"],
            rules: [
              { field: "customer_id", kind: "hash" },
              { field: "customer_email", kind: "drop" },
              { field: "account_number", kind: "mask", keepLast: 4 },
              { field: "age", kind: "coarsen", step: 10 },
              { field: "comment", kind: "redact" },
            ],
            expireDays: 30,
          },
          drift: { schedule: "30 2 * * *", windowHours: 24, psiThreshold: 0.2, pValue: 0.01 },
        },
      },
      gatewayCidrs: ["10.0.0.0/16"],
      releases: devReleases,
    },
    // Training pipelines on Argo Workflows (docs/training-pipelines.md): the example model, retrained weekly.
    training: {
      enabled: true,
      argo: { mode: "install", uiHostname: "argo-dev.example.com" },
      image: "ghcr.io/example-org/mlflow-training:0.1.0",
      modelName: "iris-classifier",
      schedule: "0 5 * * 1",
      // The cluster's OIDC issuer: aws eks describe-cluster --name ml-dev --query cluster.identity.oidc.issuer
      identity: { issuerUrl: "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE", audience: "mlflow-pipelines" },
      steps: {
        train: { resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } } },
        evaluate: { resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } } },
        register: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
        gates: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
        tag: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
      },
    },
    // Registry events (docs/registry-events.md). The channel Secret is created by an operator in the
    // MLflow namespace (keys slack-webhook-url, discord-webhook-url, github-token, smtp-password).
    events: {
      enabled: true,
      image: "ghcr.io/example-org/mlflow-platform-runtime:0.1.0",
      reconcileSeconds: 10,
      slack: { webhookUrl: { source: "kubernetes", secretName: "mlflow-events-channels", key: "slack-webhook-url" } },
      discord: { webhookUrl: { source: "kubernetes", secretName: "mlflow-events-channels", key: "discord-webhook-url" } },
      email: {
        smtpHost: "email-smtp.eu-west-1.amazonaws.com",
        username: "mlflow-dev-smtp",
        password: { source: "kubernetes", secretName: "mlflow-events-channels", key: "smtp-password" },
        from: "mlflow-dev@example.com",
        to: ["ml-platform@example.com"],
      },
      github: {
        repository: "example-org/model-release",
        token: { source: "kubernetes", secretName: "mlflow-events-channels", key: "github-token" },
      },
    },
  },
  {
    name: "staging",
    aws: { accountId: "222222222222" },
    cluster: { name: "ml-staging" },
    hostname: "mlflow-staging.example.com",
    auth: {
      clientId: "mlflow-staging",
      // Create it before the first deploy: aws secretsmanager create-secret --name mlflow-staging/oidc-client-secret ...
      clientSecret: {
        source: "secrets-manager",
        secretArn: "arn:aws:secretsmanager:eu-west-1:222222222222:secret:mlflow-staging/oidc-client-secret-AbCdEf",
      },
    },
    ingress: { certificateArn: "arn:aws:acm:eu-west-1:222222222222:certificate/00000000-0000-0000-0000-000000000002" },
    monitoring: { alertsReachNobody: true },
    serving: { releases: stagingReleases },
  },
  {
    name: "prod",
    production: true,
    aws: { accountId: "333333333333", assumeRoleArn: "arn:aws:iam::333333333333:role/mlflow-deployer" },
    cluster: { name: "ml-prod" },
    hostname: "mlflow.example.com",
    database: {
      instanceClass: "db.r7g.large",
      allocatedStorageGb: 100,
      maxAllocatedStorageGb: 1000,
      multiAz: true,
      backupRetentionDays: 14,
    },
    mlflow: {
      workers: 4,
      replicas: { min: 3, max: 10 },
      resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { memory: "4Gi" } },
    },
    auth: {
      clientId: "mlflow-prod",
      // Create it before the first deploy: aws secretsmanager create-secret --name mlflow-prod/oidc-client-secret ...
      clientSecret: {
        source: "secrets-manager",
        secretArn: "arn:aws:secretsmanager:eu-west-1:333333333333:secret:mlflow-prod/oidc-client-secret-AbCdEf",
      },
      replicas: { min: 2, max: 6 },
    },
    ingress: { certificateArn: "arn:aws:acm:eu-west-1:333333333333:certificate/00000000-0000-0000-0000-000000000003" },
    monitoring: {
      retentionDays: 30,
      storageGb: 200,
      // Create it before the first deploy: kubectl -n monitoring create secret generic alertmanager-slack --from-literal=url=<webhook URL>
      slack: { channel: "#mlflow-alerts", webhookSecretName: "alertmanager-slack" },
    },
    serving: {
      // The workflow's path to production: applications call the example model through API Gateway
      // (docs/model-serving.md, "Authentication and exposure"); the platform deploy creates the API, its
      // authorizer, throttling and the model's route, and a release adds only the model's own objects.
      exposure: "apiGateway",
      apiGateway: {
        domain: "models.example.com",
        // The tracking ingress's certificate, whose ingress.certificateDomains (*.example.com) cover the domain.
        certificateArn: "arn:aws:acm:eu-west-1:333333333333:certificate/00000000-0000-0000-0000-000000000003",
        // Private subnets of the models' internal load balancer and the VPC link (two zones); their CIDRs in gatewayCidrs.
        loadBalancerSubnetIds: ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"],
        throttleRatePerSecond: 200,
        throttleBurst: 400,
      },
      gatewayCidrs: ["10.0.0.0/16"],
      models: {
        "iris-classifier": {
          replicas: { min: 2, max: 6 },
          classNames: ["setosa", "versicolor", "virginica"],
          smokeTest: { row: [5.1, 3.5, 1.4, 0.2], expectLabel: "setosa" },
          inputFields: ["sepal_length", "sepal_width", "petal_length", "petal_width"],
          inferenceLog: {
            enabled: true,
            sampling: 0.1,
            contextFields: ["customer_id"],
            rules: [{ field: "customer_id", kind: "hash" }],
            expireDays: 90,
          },
        },
      },
      releases: prodReleases,
    },
  },
];
