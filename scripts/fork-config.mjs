#!/usr/bin/env node
/**
 * Turns config/environments.ts into what a fork would have after following the README's fork
 * checklist: every placeholder replaced by the fork's own values, one more AWS environment (another
 * account, region and domain), one on Google Cloud and one on Azure. `scripts/fork-check.sh` runs the whole test suite on the result, so a
 * test that hard-codes the shipped environments or placeholders fails CI.
 *
 * Usage: node scripts/fork-config.mjs <path of environments.ts to rewrite in place>
 */
import * as fs from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: node scripts/fork-config.mjs <config/environments.ts>");
  process.exit(2);
}
let src = fs.readFileSync(file, "utf8");

// Every value the README's fork checklist names, old -> new. A placeholder missing from the file is an
// error: the checklist and the shipped configuration must not drift apart.
const replacements = [
  ["example-org-terraform-state", "acme-ml-tfstate"],
  ["example-org/mlflow-platform", "acme/ml-platform"],
  ["111111111111", "210987654321"],
  ["222222222222", "310987654321"],
  ["333333333333", "410987654321"],
  ["https://login.example.com/realms/ml", "https://sso.acme.io/realms/data"],
  ["ml-platform@example.com", "mlops@acme.io"],
  ["*.example.com", "*.ml.acme.io"],
  ["mlflow-dev.example.com", "tracking-dev.ml.acme.io"],
  ["mlflow-staging.example.com", "tracking-staging.ml.acme.io"],
  ["mlflow.example.com", "tracking.ml.acme.io"],
  // The models' API (serving.apiGateway): its domain and the private subnets of its load balancer.
  ["models.example.com", "models.ml.acme.io"],
  ["subnet-0a1b2c3d4e5f60718", "subnet-07766554433221100"],
  ["subnet-0b2c3d4e5f6071829", "subnet-0ffeeddccbbaa9988"],
  ['"example.com"', '"acme.io"'],
  ["10.0.0.0/16", "10.42.0.0/16"],
  ["ml-dev", "eks-ml-dev"],
  ["ml-staging", "eks-ml-staging"],
  ["ml-prod", "eks-ml-prod"],
  // Training pipelines (docs/training-pipelines.md): the Argo UI's name and the cluster's OIDC issuer.
  ["argo-dev.example.com", "workflows-dev.ml.acme.io"],
  [
    "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
    "https://oidc.eks.eu-west-1.amazonaws.com/id/0A1B2C3D4E5F60718293A4B5C6D7E8F9",
  ],
];
for (const [from, to] of replacements) {
  if (!src.includes(from)) {
    console.error(
      `fork-config: placeholder ${JSON.stringify(from)} not found in ${file}: update scripts/fork-config.mjs and the README's fork checklist together`,
    );
    process.exit(1);
  }
  src = src.split(from).join(to);
}

// One more environment, in another account, region and domain: the fork's own addition. Its name is picked
// when the configuration loads (config/free-name.ts): "qa" unless the fork already has an environment of that
// name, then "qa-2" and so on. A fixed name collided with a fork's own "qa" ("expected a unique environment name").
src += `
// Added by scripts/fork-config.mjs (fork check): a fourth environment in another account and region.
import { freeEnvironmentName as forkCheckFreeName } from "./free-name";
const forkCheckName = forkCheckFreeName("qa", environments.map((e) => e.name));
environments.push({
  name: forkCheckName,
  aws: { accountId: "510987654321", region: "us-west-2" },
  state: { backend: "s3", bucket: "acme-ml-tfstate-qa", key: "mlflow/{env}/terraform.tfstate", region: "us-west-2" },
  cluster: { name: "eks-ml-qa" },
  hostname: "tracking-qa.ml-qa.acme.dev",
  auth: {
    clientId: "mlflow-qa",
    clientSecret: { source: "secrets-manager", secretArn: "arn:aws:secretsmanager:us-west-2:510987654321:secret:mlflow-qa/oidc-client-secret-QwErTy" },
    replicas: { min: 1, max: 2 },
  },
  ingress: {
    certificateArn: "arn:aws:acm:us-west-2:510987654321:certificate/00000000-0000-0000-0000-000000000004",
    certificateDomains: ["*.ml-qa.acme.dev"],
    vpcCidrs: ["10.77.0.0/16"],
  },
  mlflow: { replicas: { min: 1, max: 2 } },
  database: { instanceClass: "db.t4g.micro", deletionProtection: false, finalSnapshot: false, backupRetentionDays: 1 },
});
// And a fifth on Google Cloud (docs/gcp.md): shared's AWS-only values are left out for it, the rest applies.
const forkCheckGcpName = forkCheckFreeName("gcp", environments.map((e) => e.name));
environments.push({
  cloud: "gcp",
  name: forkCheckGcpName,
  gcp: {
    projectId: "acme-ml-gcp",
    region: "us-central1",
    zones: ["us-central1-a", "us-central1-b"],
    network: "ml-vpc",
    subnetwork: "ml-us-central1",
    clusterName: "gke-ml",
  },
  state: { backend: "gcs", bucket: "acme-ml-tfstate-gcp", prefix: "mlflow/{env}" },
  hostname: "tracking-gcp.ml.acme.cloud",
  database: { tier: "db-custom-1-3840", deletionProtection: false, backupRetentionDays: 1 },
  auth: {
    clientId: "mlflow-gcp",
    clientSecret: { source: "kubernetes", secretName: "oidc-client-secret" },
    replicas: { min: 1, max: 2 },
  },
  ingress: {
    gatewayRef: { namespace: "gateway", name: "internal" },
    certificateDomains: ["*.ml.acme.cloud"],
    vpcCidrs: ["10.88.0.0/16"],
  },
  mlflow: { replicas: { min: 1, max: 2 } },
  // Training on GKE (docs/gcp.md#training): the cluster's own issuer, the model declared by its gates.
  training: {
    enabled: true,
    argo: { mode: "install", uiHostname: "workflows-gcp.ml.acme.cloud" },
    identity: { issuerUrl: "https://container.googleapis.com/v1/projects/acme-ml-gcp/locations/us-central1/clusters/gke-ml" },
    steps: {
      train: { resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } } },
      evaluate: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
      register: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
      gates: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
      tag: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
    },
  },
  registry: { modelGates: { "iris-classifier": {} } },
  // Its own ci section (shared's is the AWS environments'): the pipelines plan and deploy it too (docs/gcp.md#ci).
  ci: { projectNumber: "246813579024" },
} as never);
// And a sixth on Azure (docs/azure.md): likewise, shared's AWS-only values are left out for it.
const forkCheckAzureName = forkCheckFreeName("azure", environments.map((e) => e.name));
const forkCheckVnet = "/subscriptions/7d2c4e1a-5b3f-4a6d-9e8c-0f1a2b3c4d5e/resourceGroups/ml-network/providers/Microsoft.Network/virtualNetworks/ml-vnet";
environments.push({
  cloud: "azure",
  name: forkCheckAzureName,
  azure: {
    subscriptionId: "7d2c4e1a-5b3f-4a6d-9e8c-0f1a2b3c4d5e",
    tenantId: "c0ffee00-1234-4cde-8f00-abcdef012345",
    location: "northeurope",
    resourceGroupName: "ml-azure",
    clusterName: "aks-ml",
    virtualNetworkId: forkCheckVnet,
    clusterSubnetId: \`\${forkCheckVnet}/subnets/aks-nodes\`,
    databaseSubnetId: \`\${forkCheckVnet}/subnets/postgres\`,
  },
  state: { backend: "azurerm", resourceGroupName: "ml-tfstate", storageAccountName: "acmemltfstateazure", key: "mlflow/{env}.tfstate" },
  hostname: "tracking-azure.ml.acme.cloud",
  database: { skuName: "B_Standard_B1ms", deletionProtection: false },
  auth: {
    clientId: "mlflow-azure",
    clientSecret: { source: "kubernetes", secretName: "oidc-client-secret" },
    replicas: { min: 1, max: 2 },
  },
  ingress: {
    gatewayRef: { namespace: "azure-alb", name: "internal" },
    certificateDomains: ["*.ml.acme.cloud"],
    vpcCidrs: ["10.99.0.0/16"],
  },
  mlflow: { replicas: { min: 1, max: 2 } },
  // Training on AKS (docs/azure.md#training): the cluster's own issuer (az aks show ... oidcIssuerProfile.issuerUrl).
  training: {
    enabled: true,
    argo: { mode: "install", uiHostname: "workflows-azure.ml.acme.cloud" },
    identity: { issuerUrl: "https://northeurope.oic.prod-aks.azure.com/c0ffee00-1234-4cde-8f00-abcdef012345/1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d/" },
    steps: {
      train: { resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } } },
      evaluate: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
      register: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
      gates: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
      tag: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } } },
    },
  },
  registry: { modelGates: { "iris-classifier": {} } },
  // Its own ci section too, with the identities' client ids the bootstrap printed (docs/azure.md#ci).
  ci: { planClientId: "3f2a9c1e-6b7d-4e8f-9a0b-1c2d3e4f5a6b", deployClientId: "8e7d6c5b-4a39-4281-9f0e-d1c2b3a49586" },
} as never);
`;
fs.writeFileSync(file, src);
console.log(
  `fork-config: ${replacements.length} placeholders replaced, a fourth environment (named "qa", or the first free "qa-N" when the fork has a "qa"), a GCP one ("gcp" or "gcp-N") and an Azure one ("azure" or "azure-N") added to ${file}`,
);
