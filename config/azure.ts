/**
 * The configuration of an Azure environment (`cloud: "azure"`): AKS, Azure Database for PostgreSQL flexible
 * server, Blob Storage, Key Vault and Azure Container Registry below the same Kubernetes half as an AWS
 * environment. The cloud-neutral sections (mlflow, auth, monitoring, registry, events, serving, training) are the
 * AWS schema's own, so a value means the same on every cloud; the sections below Kubernetes are Azure's. What is
 * not supported on Azure yet is refused here, naming the field and saying so (docs/azure.md).
 */
import { z } from "zod";
import {
  AZURE_TAG_LIMITS,
  aksClusterNameProblem,
  azureGuidProblem,
  azureLocationProblem,
  azureTagNameProblem,
  azureTagValueProblem,
  blobContainerNameProblem,
  containerRegistryNameProblem,
  keyVaultAllowedCidrProblem,
  keyVaultNameProblem,
  parseNetworkId,
  postgresFlexibleServerNameProblem,
  resourceGroupNameProblem,
  storageAccountNameProblem,
  subnetIdProblem,
  virtualNetworkIdProblem,
} from "../constructs/core/azure-limits";
import { S3_KEY_PREFIX } from "../constructs/core/s3-prefix";
import { certificateCoverageProblem } from "../constructs/core/aws-limits";
import { environmentSchema, STACK_TAGS } from "./schema";
import { gatewayExposureProblems, grafanaExposureProblems } from "./kubernetes-half";
import { teamsProblems } from "./teams";
import { cloudTrainingProblems, type CloudRefusals } from "./cloud-refusals";
import { azureCiProblems, azureCiSchema } from "./azure-ci";
import { secretSourceProblems } from "./events";

const rule = (problem: (value: string) => string | undefined, base: z.ZodString = z.string()) =>
  base.superRefine((value, ctx) => {
    const p = problem(value);
    if (p) ctx.addIssue({ code: "custom", message: p });
  });
const int = (min: number, max: number, what: string) =>
  z
    .number({ error: `${what}: a whole number from ${min} to ${max}` })
    .int({ error: `${what}: a whole number from ${min} to ${max}` })
    .min(min, { error: `${what}: a whole number from ${min} to ${max}` })
    .max(max, { error: `${what}: a whole number from ${min} to ${max}` });

const base = environmentSchema.shape;

const azureSchema = z
  .object({
    subscriptionId: rule((v) => azureGuidProblem(v, "subscription")).describe(
      "The subscription this environment's resources live in; the provider works in no other.",
    ),
    tenantId: rule((v) => azureGuidProblem(v, "tenant")).describe(
      "The Microsoft Entra tenant of the subscription: the Key Vault trusts it, the workload identity's tokens come from it.",
    ),
    location: rule(azureLocationProblem).describe(
      'The environment\'s region (programmatic name, e.g. "westeurope"): the storage account, the database, the vault and the registry live there.',
    ),
    resourceGroupName: rule(resourceGroupNameProblem).describe(
      "The existing resource group the environment's resources go in (the stack creates no resource group: docs/azure.md).",
    ),
    clusterName: rule(aksClusterNameProblem).describe(
      "Name of the existing AKS cluster (OIDC issuer and workload identity enabled) the platform deploys into.",
    ),
    clusterResourceGroupName: rule(resourceGroupNameProblem)
      .optional()
      .describe("The cluster's resource group, when it is not azure.resourceGroupName."),
    virtualNetworkId: rule(virtualNetworkIdProblem).describe(
      "Resource id of the cluster's virtual network: the database's private DNS zone is linked to it.",
    ),
    clusterSubnetId: rule(subnetIdProblem).describe(
      "Resource id of the AKS nodes' subnet (with the Microsoft.Storage service endpoint): the storage account's network rules admit it.",
    ),
    databaseSubnetId: rule(subnetIdProblem).describe(
      "Resource id of a subnet of the virtual network delegated to Microsoft.DBforPostgreSQL/flexibleServers: the database's private address lives there.",
    ),
    keyVaultAllowedCidrs: z
      .array(rule(keyVaultAllowedCidrProblem))
      .default([])
      .describe(
        "Public IPv4 ranges Terraform runs from (the Key Vault's firewall admits them to create and rotate keys); empty: trusted Azure services only, so Terraform must run where the vault is reachable (docs/azure.md).",
      ),
    keyVaultName: rule(keyVaultNameProblem)
      .optional()
      .describe(
        "Key Vault name; defaults to `<project>-<env>-<first 6 hex digits of the subscription id>`. Vault names are global and a deleted vault keeps its name for 90 days (purge protection), so an environment recreated within that time needs another.",
      ),
  })
  .strict();

const azureStateSchema = z.discriminatedUnion(
  "backend",
  [
    z
      .object({
        backend: z
          .literal("azurerm")
          .describe("Remote state in a blob of an Azure storage account (Terraform's azurerm backend: locked with a blob lease)."),
        resourceGroupName: rule(resourceGroupNameProblem).describe("Resource group of the state's storage account."),
        storageAccountName: rule(storageAccountNameProblem).describe(
          "The storage account holding the Terraform state (Terraform reaches it with Microsoft Entra ID, never a shared key: docs/azure.md).",
        ),
        containerName: rule(blobContainerNameProblem).default("tfstate").describe("The blob container of the state."),
        key: z
          .string()
          .regex(/^[^/](.*[^/])?$/, { error: "a blob name without leading or trailing '/', such as \"mlflow/{env}.tfstate\"" })
          .default("mlflow/{env}.tfstate")
          .describe("Blob name of the state; `{env}` is replaced with the environment name."),
      })
      .strict(),
    base.state.options[1],
  ],
  { error: 'state.backend: "azurerm" (remote, locked) or "local" on an Azure environment' },
);

const azureArtifactsSchema = z
  .object({
    storageAccountName: rule(storageAccountNameProblem)
      .optional()
      .describe(
        "Storage account name; defaults to `<project><env>` without hyphens and the first 6 hex digits of the subscription id (storage account names are global).",
      ),
    containerName: rule(blobContainerNameProblem).default("mlflow").describe("The private blob container MLflow writes to."),
    prefix: z
      .string()
      .regex(S3_KEY_PREFIX, { error: "a blob name prefix without leading or trailing '/', such as \"mlartifacts\"" })
      .default("mlartifacts")
      .describe("Prefix under which MLflow stores artifacts (`wasbs://<container>@<account>.blob.core.windows.net/<prefix>/...`)."),
    forceDestroy: base.artifacts.shape.forceDestroy.describe(
      "Let `terraform destroy` delete the storage account while its container still holds blobs. Only for throw-away environments.",
    ),
    transitionToInfrequentAccessDays: base.artifacts.shape.transitionToInfrequentAccessDays.describe(
      "Days after the last modification at which artifacts move to the Cool tier (30-day minimum storage, like S3's STANDARD_IA).",
    ),
    transitionToGlacierIrDays: base.artifacts.shape.transitionToGlacierIrDays.describe(
      "Days after the last modification at which artifacts move to the Cold tier (online reads, 90-day minimum storage, like S3's GLACIER_IR).",
    ),
    expireDays: base.artifacts.shape.expireDays,
    noncurrentExpireDays: base.artifacts.shape.noncurrentExpireDays.describe(
      "Days after which a previous version (an overwritten or deleted artifact) is deleted, counted from when it became one.",
    ),
  })
  .strict();

/** A flexible server's availability zone. */
const zone = z.enum(["1", "2", "3"], { error: 'an availability zone: "1", "2" or "3"' });

/** The storage sizes (MB) a flexible server takes (the azurerm provider's `storage_mb`). */
export const POSTGRES_FLEXIBLE_STORAGE_MB = [
  32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4193280, 4194304, 8388608, 16777216, 33553408,
] as const;

const azureDatabaseSchema = z
  .object({
    engineVersion: base.database.shape.engineVersion.describe(
      'PostgreSQL major version (e.g. "17"); Azure applies minor versions in the maintenance window.',
    ),
    skuName: z
      .string()
      .regex(/^(B|GP|MO)_Standard_[A-Za-z0-9_]+$/, {
        error: 'a flexible server SKU such as "GP_Standard_D2ds_v5" (B_ burstable, GP_ general purpose, MO_ memory optimized)',
      })
      .default("GP_Standard_D2ds_v5")
      .describe("Flexible server compute SKU (tier prefix and VM size)."),
    storageMb: z
      .number()
      .refine((v) => (POSTGRES_FLEXIBLE_STORAGE_MB as readonly number[]).includes(v), {
        error: `one of the flexible server's storage sizes in MB: ${POSTGRES_FLEXIBLE_STORAGE_MB.join(", ")}`,
      })
      .default(32768)
      .describe("Storage size in MB (32768 = 32 GiB)."),
    autoGrow: z.boolean().default(true).describe("Grow the storage automatically before it fills up."),
    zone: zone.optional().describe("Availability zone of the primary; Azure picks one when unset."),
    highAvailability: z.boolean().default(false).describe("A zone-redundant standby with automatic failover (in database.standbyZone)."),
    standbyZone: zone.optional().describe("Availability zone of the standby (database.highAvailability); another than database.zone."),
    deletionProtection: z
      .boolean()
      .describe("A CanNotDelete management lock on the server: Azure refuses to delete it while the lock exists (required in production)."),
    backupRetentionDays: int(7, 35, "days").default(7).describe("Days of backups kept for point-in-time restore (Azure allows 7-35)."),
    geoRedundantBackup: z
      .boolean()
      .default(false)
      .describe("Backups also copied to the paired region (set at creation: changing it replaces the server)."),
    maintenanceDay: int(0, 6, "day")
      .default(0)
      .describe("Day of the weekly maintenance window (0 = Sunday ... 6 = Saturday, Azure's numbering)."),
    maintenanceHour: int(0, 23, "hour").default(4).describe("Hour of the weekly maintenance window (UTC)."),
    name: base.database.shape.name,
    slowStatementMs: base.database.shape.slowStatementMs,
  })
  .strict();

const azureIngressSchema = z
  .object({
    kind: z
      .literal("gateway-api", {
        error:
          '"gateway-api" on an Azure environment: an HTTPRoute on an Application Gateway for Containers Gateway (the ALB Ingress is AWS-only)',
      })
      .default("gateway-api")
      .describe(
        "How traffic enters: a Gateway API HTTPRoute on an existing Gateway of Application Gateway for Containers (TLS terminates at the Gateway).",
      ),
    gatewayRef: base.ingress.shape.gatewayRef.unwrap().describe("The Gateway (namespace/name) the HTTPRoute attaches to."),
    certificateDomains: base.ingress.shape.certificateDomains.describe(
      'Domains the Gateway\'s certificate covers ("mlflow.example.com" or "*.example.com"); the hostname must match one.',
    ),
    idleTimeoutSeconds: base.ingress.shape.idleTimeoutSeconds,
    deregistrationDelaySeconds: base.ingress.shape.deregistrationDelaySeconds.describe(
      "How long requests in flight to a stopping proxy pod may finish; the proxy pods keep serving longer (auth.drainSeconds). Default: idleTimeoutSeconds (at most 3600).",
    ),
    vpcCidrs: base.ingress.shape.vpcCidrs.describe(
      "CIDR blocks Application Gateway for Containers connects from (its association subnet) and the virtual network's ranges (nodes, pods): the proxy's NetworkPolicy admits them and trusts their X-Forwarded-* headers.",
    ),
  })
  .strict();

const azureAuthSchema = base.auth.extend({
  clientSecret: base.auth.shape.clientSecret.options[1],
});

/** Tags every Azure resource of the stack carries itself (as on AWS). */
export const STACK_AZURE_TAGS = STACK_TAGS;

export const azureEnvironmentSchema = z
  .object({
    cloud: z.literal("azure").describe("Selects Azure: this schema, and the Azure stack (stacks/azure-stack.ts)."),
    name: base.name,
    project: base.project,
    production: base.production,
    azure: azureSchema,
    tags: z
      .record(z.string(), z.string())
      .default({})
      .describe(
        `Extra tags on every Azure resource (project, environment and managed-by are set by the stack; names up to ${AZURE_TAG_LIMITS.storageAccountNameLength} characters without <>%&\\?/, values up to ${AZURE_TAG_LIMITS.valueLength}).`,
      ),
    state: azureStateSchema,
    hostname: base.hostname,
    artifacts: azureArtifactsSchema,
    database: azureDatabaseSchema,
    mlflow: base.mlflow,
    auth: azureAuthSchema,
    ingress: azureIngressSchema,
    monitoring: base.monitoring,
    serving: base.serving,
    registry: base.registry,
    events: base.events,
    training: base.training,
    teams: base.teams,
    access: base.access,
    ci: azureCiSchema
      .optional()
      .describe(
        "GitHub Actions access to this environment's resource group (config/azure-ci.ts, docs/azure.md#ci): the plan and deploy user-assigned identities with GitHub's federated credentials and their role assignments. Without it the stack creates no CI identity.",
      ),
  })
  .strict()
  .superRefine((env, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    const az = env.azure;
    for (const p of grafanaExposureProblems(env)) issue(p.path, p.message);
    for (const p of teamsProblems(env)) issue(p.path, p.message);

    // The subnets belong to the cluster's virtual network: the database's address must be reachable from the nodes,
    // and the storage account admits the nodes' subnet.
    const vnet = parseNetworkId(az.virtualNetworkId);
    const vnetKey = (p: { subscriptionId: string; resourceGroupName: string; virtualNetworkName: string }) =>
      `${p.subscriptionId}/${p.resourceGroupName}/${p.virtualNetworkName}`.toLowerCase();
    for (const field of ["clusterSubnetId", "databaseSubnetId"] as const) {
      const subnet = parseNetworkId(az[field]);
      if (vnet && subnet && vnetKey(vnet) !== vnetKey(subnet))
        issue(["azure", field], `a subnet of azure.virtualNetworkId (${vnet.virtualNetworkName}), not of ${subnet.virtualNetworkName}`);
    }
    if (az.clusterSubnetId.toLowerCase() === az.databaseSubnetId.toLowerCase())
      issue(
        ["azure", "databaseSubnetId"],
        "a subnet of its own, delegated to Microsoft.DBforPostgreSQL/flexibleServers (a delegated subnet holds nothing else: not the nodes' subnet)",
      );

    const covered = certificateCoverageProblem(env.ingress.certificateDomains, env.hostname, "ingress.certificateDomains");
    if (covered) issue(["hostname"], covered);

    const d = env.database;
    if (d.standbyZone !== undefined && !d.highAvailability)
      issue(["database", "standbyZone"], "nothing unless database.highAvailability is on (it is the standby's zone)");
    if (d.highAvailability && d.zone !== undefined && d.standbyZone === d.zone)
      issue(["database", "standbyZone"], `another zone than database.zone (${d.zone}): the standby guards against the loss of a zone`);
    if (d.geoRedundantBackup)
      issue(
        ["database", "geoRedundantBackup"],
        `false: geo-redundant backups of a CMK-encrypted server need a second Key Vault key in the paired region, which is ${NOT_YET}`,
      );
    if (d.highAvailability && d.skuName.startsWith("B_"))
      issue(["database", "highAvailability"], `false with a burstable SKU (${d.skuName}): high availability needs GP_ or MO_`);

    const a = env.artifacts;
    if (a.transitionToGlacierIrDays !== undefined && a.transitionToGlacierIrDays < a.transitionToInfrequentAccessDays + 30)
      issue(
        ["artifacts", "transitionToGlacierIrDays"],
        `at least 30 days after transitionToInfrequentAccessDays (>= ${a.transitionToInfrequentAccessDays + 30})`,
      );
    if (a.expireDays !== undefined && a.expireDays <= (a.transitionToGlacierIrDays ?? a.transitionToInfrequentAccessDays))
      issue(
        ["artifacts", "expireDays"],
        `later than the last storage-tier transition (> ${a.transitionToGlacierIrDays ?? a.transitionToInfrequentAccessDays} days)`,
      );

    // The names the stack derives (each global in Azure): refused here, with the field that fixes each.
    const names = azureResourceNames(env);
    const derived: [string | undefined, string, (n: string) => string | undefined, string, string][] = [
      [a.storageAccountName, names.storageAccount, storageAccountNameProblem, "storage account", "artifacts.storageAccountName"],
      [az.keyVaultName, names.keyVault, keyVaultNameProblem, "Key Vault", "azure.keyVaultName"],
    ];
    for (const [given, name, problem, what, field] of derived) {
      if (given !== undefined) continue;
      const p = problem(name);
      if (p) issue(["name"], `a name that gives a valid ${what} name: "${name}" is not ${p}; shorten project or name, or set ${field}`);
    }
    for (const [name, problem, what] of [
      [names.postgresServer, postgresFlexibleServerNameProblem, "PostgreSQL flexible server"],
      [names.containerRegistry, containerRegistryNameProblem, "container registry"],
    ] as const) {
      const p = problem(name);
      if (p) issue(["name"], `a name that gives a valid ${what} name: "${name}" is not ${p}; shorten project or name`);
    }

    if (env.production) {
      if (!d.deletionProtection) issue(["database", "deletionProtection"], "true in a production environment");
      if (a.forceDestroy)
        issue(["artifacts", "forceDestroy"], "false in a production environment (it would let destroy delete every artifact)");
      if (env.auth.localTestProfile) issue(["auth", "localTestProfile"], "false in a production environment");
    }

    for (const [key, value] of Object.entries(env.tags)) {
      if ((STACK_AZURE_TAGS as readonly string[]).includes(key)) {
        issue(["tags", key], `no "${key}" tag: the stack sets ${STACK_AZURE_TAGS.join(", ")} on every resource itself`);
        continue;
      }
      const p = azureTagNameProblem(key) ?? azureTagValueProblem(value);
      if (p) issue(["tags", key], p);
    }
    // Tag names are case-insensitive in Azure: two spellings of one name are one tag.
    const lower = new Map<string, string>();
    for (const key of [...STACK_AZURE_TAGS, ...Object.keys(env.tags)]) {
      const first = lower.get(key.toLowerCase());
      if (first !== undefined && first !== key)
        issue(["tags", key], `no second spelling of tag "${first}" (Azure's tag names are case-insensitive)`);
      else lower.set(key.toLowerCase(), key);
    }
    if (Object.keys(env.tags).length > AZURE_TAG_LIMITS.perResource - STACK_AZURE_TAGS.length)
      issue(
        ["tags"],
        `at most ${AZURE_TAG_LIMITS.perResource - STACK_AZURE_TAGS.length} tags (Azure allows ${AZURE_TAG_LIMITS.perResource} per resource and the stack sets ${STACK_AZURE_TAGS.length})`,
      );

    // ── training (Argo Workflows): the AWS rules of the section, and the AKS cluster's own token issuer ──
    for (const p of cloudTrainingProblems(env, AZURE_REFUSALS, "`az aks show -n <cluster> -g <group> --query oidcIssuerProfile.issuerUrl`"))
      issue(p.path, p.message);

    for (const p of azureCiProblems(env)) issue(p.path, p.message);

    for (const p of gatewayExposureProblems(env, "an Azure environment")) issue(p.path, p.message);
    // ── registry events: channel secrets from Key Vault or Kubernetes, never another cloud's store ──
    for (const p of secretSourceProblems(env.events, "azure")) issue(p.path, p.message);
  });

/** One Azure environment's configuration, validated and with defaults applied. */
export type AzureEnvironmentConfig = z.output<typeof azureEnvironmentSchema>;

/** What an Azure environment entry may be written as (before defaults). */
export type AzureEnvironmentInput = z.input<typeof azureEnvironmentSchema>;

/**
 * Six hex digits of the subscription id: the names Azure keeps global (storage account, Key Vault, database
 * server, registry) carry them, so two organisations with the same project and environment names do not collide.
 */
export function subscriptionSuffix(subscriptionId: string): string {
  return subscriptionId.replace(/-/g, "").slice(0, 6).toLowerCase();
}

/** The names of an environment's Azure resources, derived from project, name and subscription unless configured. */
export function azureResourceNames(env: {
  project: string;
  name: string;
  azure: { subscriptionId: string; keyVaultName?: string };
  artifacts: { storageAccountName?: string };
}): { storageAccount: string; keyVault: string; postgresServer: string; containerRegistry: string; stack: string } {
  const stack = `${env.project}-${env.name}`;
  const suffix = subscriptionSuffix(env.azure.subscriptionId);
  const compact = stack.replace(/-/g, "");
  return {
    stack,
    storageAccount: env.artifacts.storageAccountName ?? `${compact}${suffix}`,
    keyVault: env.azure.keyVaultName ?? `${stack}-${suffix}`,
    postgresServer: `${stack}-${suffix}`,
    containerRegistry: `${compact}${suffix}`,
  };
}

/** The tags every Azure resource of an environment carries: the configured ones, then the stack's own. */
export function azureTags(env: Pick<AzureEnvironmentConfig, "tags" | "project" | "name">): Record<string, string> {
  return { ...env.tags, project: env.project, environment: env.name, "managed-by": "cdktf" };
}

const NOT_YET = "not supported on Azure yet (docs/azure.md#not-yet-supported)";

/** How an Azure environment names what it refuses (config/cloud-refusals.ts). */
export const AZURE_REFUSALS: CloudRefusals = {
  environment: "an Azure environment",
  notYet: NOT_YET,
  awsOnlyFields: {
    aws: "azure.subscriptionId and azure.location",
    cluster: "azure.clusterName and azure.virtualNetworkId (AKS)",
    identity: "nothing: AKS workload identity binds each workload to its own user-assigned managed identity",
    notifications: "nothing yet: database alerts go through monitoring's receivers",
    "ci.oidcProvider": "nothing: Entra ID trusts GitHub's issuer through each CI identity's federated credentials",
    "ci.planRoleName": "ci.planIdentityName",
    "ci.deployRoleName": "ci.deployIdentityName",
    "ci.imagePushRoleName": "nothing yet: model images are not released to Azure environments yet",
    "state.bucket": "state.storageAccountName and state.containerName (azurerm backend)",
    "state.region": "nothing: the state's storage account has its own location",
    "state.kmsKeyArn": "nothing: the state's storage account encrypts it (docs/azure.md)",
    "ingress.certificateArn": "nothing: TLS terminates at the Application Gateway for Containers Gateway (its certificate)",
    "ingress.scheme": "the Gateway's frontend",
    "ingress.sslPolicy": "the Gateway's TLS policy",
    "ingress.installLoadBalancerController":
      "nothing: Application Gateway for Containers' ALB controller is installed with the cluster (docs/azure.md)",
    "artifacts.bucketName": "artifacts.storageAccountName and artifacts.containerName",
    "artifacts.accessLogging": "nothing yet: the storage account's diagnostic settings are not supported yet",
    "artifacts.replicationRegion": "nothing yet: geo-redundant storage is not supported yet",
    "artifacts.noncurrentVersionsToKeep": {
      refused:
        "Azure's lifecycle management keeps no number of versions: artifacts.noncurrentExpireDays deletes each previous version that many days after it became one",
    },
    "artifacts.noncurrentMaxDays": {
      refused:
        "without a number of versions kept, artifacts.noncurrentExpireDays is the only limit (every previous version is deleted then)",
    },
    "artifacts.abortIncompleteMultipartUploadDays": {
      refused: "Blob Storage discards uncommitted blocks by itself (after seven days), there is nothing to configure",
    },
    "database.instanceClass": "database.skuName",
    "database.allocatedStorageGb": "database.storageMb",
    "database.maxAllocatedStorageGb": "database.autoGrow",
    "database.multiAz": "database.highAvailability",
    "database.finalSnapshot": "nothing: the flexible server keeps its backups per database.backupRetentionDays",
    "database.readReplica": "nothing yet: a flexible server read replica is not supported yet",
    "database.backupWindow": "nothing: Azure schedules the flexible server's backups itself",
    "database.maintenanceWindow": "database.maintenanceDay and database.maintenanceHour",
    "database.monitoringIntervalSeconds": "nothing: the flexible server's metrics are built in",
    "auth.clientSecret.secretArn": 'auth.clientSecret { source: "kubernetes", secretName }',
    // Model images live in the environment's Container Registry, whose retention policy deletes untagged manifests.
    "serving.keepImages": "nothing: the Container Registry deletes untagged manifests after its retention period (docs/azure.md)",
    "serving.expireTagPrefixes": "nothing: the Container Registry's retention applies to untagged manifests only (docs/azure.md)",
    // The Gateway's listener terminates TLS for the models' host names, as for MLflow's.
    "serving.ingress.certificateArn":
      "nothing: the Gateway's listener certificate (ingress.certificateDomains) covers the models' host names",
    "serving.ingress.scheme": "nothing: the Gateway (ingress.gatewayRef) decides whether the models are internal",
    "serving.apiGateway": {
      refused: `API Gateway is AWS's: set serving.exposure "ingress" (the environment's Gateway) or "none"`,
    },
  },
  stateBackend: 'state.backend "azurerm" (with state.resourceGroupName, state.storageAccountName and state.key) or "local"',
  gatewayApi: '"gateway-api" (an HTTPRoute on an Application Gateway for Containers Gateway)',
  foreignSections: { gcp: "Google Cloud" },
};
