/**
 * The configuration of a Google Cloud environment (`cloud: "gcp"`): GKE, Cloud SQL, Cloud Storage, Cloud KMS
 * and Artifact Registry below the same Kubernetes half as an AWS environment. The cloud-neutral sections
 * (mlflow, auth, monitoring, registry, events, serving, training) are the AWS schema's own, so a value means the
 * same on either cloud; the sections below Kubernetes are Google's. What is not supported on GCP yet is
 * refused here, naming the field and saying so (docs/gcp.md).
 */
import { z } from "zod";
import {
  GCP_LABEL_LIMITS,
  gcpLabelKeyProblem,
  gcpLabelValueProblem,
  gcpProjectIdProblem,
  gcpRegionProblem,
  gcpResourceNameProblem,
  gcpZoneProblem,
  gcsBucketNameProblem,
  gkeClusterNameProblem,
  sqlInstanceIdProblem,
} from "../constructs/core/gcp-limits";
import { S3_KEY_PREFIX } from "../constructs/core/s3-prefix";
import { certificateCoverageProblem } from "../constructs/core/aws-limits";
import { environmentSchema, STACK_TAGS } from "./schema";
import { gatewayExposureProblems, grafanaExposureProblems } from "./kubernetes-half";
import { teamsProblems } from "./teams";
import { cloudTrainingProblems, refusedFields, type CloudRefusals } from "./cloud-refusals";
import { gcpCiProblems, gcpCiSchema } from "./gcp-ci";
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

const gcpSchema = z
  .object({
    projectId: rule(gcpProjectIdProblem).describe("The Google Cloud project this environment lives in; the provider works in no other."),
    region: rule(gcpRegionProblem).describe(
      'The environment\'s region, e.g. "europe-west1": Cloud SQL, the bucket, the key ring and the registry live there.',
    ),
    zones: z
      .array(z.string())
      .min(1, { error: "at least one zone of gcp.region" })
      .max(3, { error: "at most three zones" })
      .describe(
        'Zones of gcp.region, e.g. ["europe-west1-b", "europe-west1-c"]: Cloud SQL\'s primary in the first, its standby (database.highAvailability) in the second.',
      ),
    network: rule((v) => gcpResourceNameProblem(v, "a VPC network name")).describe(
      "The VPC network of the GKE cluster; Cloud SQL gets a private IP in it (private services access must be configured on it: docs/gcp.md).",
    ),
    subnetwork: rule((v) => gcpResourceNameProblem(v, "a subnetwork name")).describe("The cluster's subnetwork in gcp.region."),
    clusterName: rule(gkeClusterNameProblem).describe(
      "Name of the existing GKE cluster (Workload Identity enabled) the platform deploys into.",
    ),
    clusterLocation: z
      .string()
      .optional()
      .describe("The cluster's location: gcp.region for a regional cluster (the default), or a zone of it for a zonal one."),
  })
  .strict();

const gcsStateSchema = z.discriminatedUnion(
  "backend",
  [
    z
      .object({
        backend: z.literal("gcs").describe("Remote state in a Cloud Storage bucket (Terraform's gcs backend: versioned, locked)."),
        bucket: rule(gcsBucketNameProblem).describe("The bucket holding the Terraform state, in the environment's project."),
        prefix: z
          .string()
          .regex(/^[^/](.*[^/])?$/, { error: "a path without leading or trailing '/', such as \"mlflow/{env}\"" })
          .default("mlflow/{env}")
          .describe("Object prefix of the state; `{env}` is replaced with the environment name."),
      })
      .strict(),
    base.state.options[1],
  ],
  { error: 'state.backend: "gcs" (remote, locked) or "local" on a GCP environment' },
);

const gcpArtifactsSchema = z
  .object({
    bucketName: rule(gcsBucketNameProblem)
      .optional()
      .describe("Bucket name; defaults to `<project>-<env>-artifacts-<gcp.projectId>` (globally unique)."),
    prefix: z
      .string()
      .regex(S3_KEY_PREFIX, { error: "an object name prefix without leading or trailing '/', such as \"mlartifacts\"" })
      .default("mlartifacts")
      .describe("Prefix under which MLflow stores artifacts (`gs://<bucket>/<prefix>/...`)."),
    forceDestroy: base.artifacts.shape.forceDestroy,
    transitionToInfrequentAccessDays: base.artifacts.shape.transitionToInfrequentAccessDays.describe(
      "Days after which artifacts move to NEARLINE (30-day minimum storage, like S3's STANDARD_IA).",
    ),
    transitionToGlacierIrDays: base.artifacts.shape.transitionToGlacierIrDays.describe(
      "Days after which artifacts move to COLDLINE (millisecond access, 90-day minimum storage, like S3's GLACIER_IR).",
    ),
    expireDays: base.artifacts.shape.expireDays,
    noncurrentVersionsToKeep: base.artifacts.shape.noncurrentVersionsToKeep,
    noncurrentExpireDays: base.artifacts.shape.noncurrentExpireDays,
    noncurrentMaxDays: base.artifacts.shape.noncurrentMaxDays,
    abortIncompleteMultipartUploadDays: base.artifacts.shape.abortIncompleteMultipartUploadDays,
  })
  .strict();

const gcpDatabaseSchema = z
  .object({
    engineVersion: base.database.shape.engineVersion.describe(
      'PostgreSQL major version (e.g. "17"); Cloud SQL applies minor versions in the maintenance window.',
    ),
    tier: z
      .string()
      .regex(/^db-[a-z0-9-]+$/, { error: 'a Cloud SQL machine tier such as "db-custom-2-7680" or "db-perf-optimized-N-2"' })
      .describe("Cloud SQL machine tier."),
    edition: z.enum(["ENTERPRISE", "ENTERPRISE_PLUS"]).default("ENTERPRISE").describe("Cloud SQL edition."),
    diskSizeGb: int(10, 65536, "GB").default(20).describe("Initial SSD size in GB (Cloud SQL minimum 10)."),
    diskAutoresizeLimitGb: int(10, 65536, "GB").default(100).describe("Storage autoscaling ceiling in GB; at least diskSizeGb."),
    highAvailability: z
      .boolean()
      .default(false)
      .describe("A standby in the second of gcp.zones with automatic failover (REGIONAL availability)."),
    deletionProtection: z.boolean().describe("Cloud SQL refuses to delete the instance while this is on (required in production)."),
    backupRetentionDays: int(1, 365, "days").describe("Daily backups kept (Cloud SQL keeps a count: one backup a day)."),
    pointInTimeRecoveryDays: int(1, 7, "days")
      .default(7)
      .describe("Days of transaction logs kept for point-in-time recovery (Enterprise edition: 1-7)."),
    backupStartTime: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'a UTC time "HH:MM" such as "02:00"' })
      .default("02:00")
      .describe("Start of the daily backup window (UTC, HH:MM)."),
    maintenanceDay: int(1, 7, "day").default(7).describe("Day of the weekly maintenance window (1 = Monday ... 7 = Sunday)."),
    maintenanceHour: int(0, 23, "hour").default(4).describe("Hour of the weekly maintenance window (UTC)."),
    name: base.database.shape.name,
    slowStatementMs: base.database.shape.slowStatementMs,
  })
  .strict();

const gcpIngressSchema = z
  .object({
    kind: z
      .literal("gateway-api", { error: '"gateway-api" on a GCP environment: an HTTPRoute on a GKE Gateway (the ALB Ingress is AWS-only)' })
      .default("gateway-api")
      .describe("How traffic enters: a Gateway API HTTPRoute on an existing GKE Gateway (TLS terminates at the Gateway)."),
    gatewayRef: base.ingress.shape.gatewayRef.unwrap().describe("The Gateway (namespace/name) the HTTPRoute attaches to."),
    certificateDomains: base.ingress.shape.certificateDomains.describe(
      'Domains the Gateway\'s certificate covers ("mlflow.example.com" or "*.example.com"); the hostname must match one.',
    ),
    idleTimeoutSeconds: base.ingress.shape.idleTimeoutSeconds,
    deregistrationDelaySeconds: base.ingress.shape.deregistrationDelaySeconds.describe(
      "How long requests in flight to a stopping proxy pod may finish (the Gateway's connection draining); the proxy pods keep serving longer (auth.drainSeconds). Default: idleTimeoutSeconds (at most 3600).",
    ),
    vpcCidrs: base.ingress.shape.vpcCidrs.describe(
      "CIDR blocks the Gateway's proxies connect from (the proxy-only subnet of an internal Gateway; Google's front ends 35.191.0.0/16 and 130.211.0.0/22 for an external one) and the VPC's ranges: the proxy's NetworkPolicy admits them and trusts their X-Forwarded-* headers.",
    ),
  })
  .strict();

const gcpAuthSchema = base.auth.extend({
  clientSecret: base.auth.shape.clientSecret.options[1],
});

/** Labels every Google resource of the stack carries (the GCP counterpart of STACK_TAGS). */
export const STACK_LABELS = STACK_TAGS;

export const gcpEnvironmentSchema = z
  .object({
    cloud: z.literal("gcp").describe("Selects Google Cloud: this schema, and the GCP stack (stacks/gcp-stack.ts)."),
    name: base.name,
    project: base.project,
    production: base.production,
    gcp: gcpSchema,
    tags: z
      .record(z.string(), z.string())
      .default({})
      .describe("Extra labels on every Google resource (Google's label rules: lower-case keys and values)."),
    state: gcsStateSchema,
    hostname: base.hostname,
    artifacts: gcpArtifactsSchema,
    database: gcpDatabaseSchema,
    mlflow: base.mlflow,
    auth: gcpAuthSchema,
    ingress: gcpIngressSchema,
    monitoring: base.monitoring,
    serving: base.serving,
    registry: base.registry,
    events: base.events,
    training: base.training,
    teams: base.teams,
    access: base.access,
    ci: gcpCiSchema
      .optional()
      .describe(
        "GitHub Actions access to this environment's project (config/gcp-ci.ts, docs/gcp.md#ci): a Workload Identity pool with GitHub's provider and the plan and deploy service accounts. Without it the stack creates no CI identity.",
      ),
  })
  .strict()
  .superRefine((env, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    const g = env.gcp;
    const regionOk = gcpRegionProblem(g.region) === undefined;
    for (const [i, zone] of g.zones.entries()) {
      const p = gcpZoneProblem(zone, regionOk ? g.region : undefined);
      if (p) issue(["gcp", "zones", i], p);
    }
    if (new Set(g.zones).size !== g.zones.length) issue(["gcp", "zones"], "distinct zones");
    if (
      g.clusterLocation !== undefined &&
      g.clusterLocation !== g.region &&
      gcpZoneProblem(g.clusterLocation, regionOk ? g.region : undefined)
    )
      issue(["gcp", "clusterLocation"], `gcp.region (${g.region}) for a regional cluster, or a zone of it for a zonal one`);

    const covered = certificateCoverageProblem(env.ingress.certificateDomains, env.hostname, "ingress.certificateDomains");
    if (covered) issue(["hostname"], covered);
    for (const p of grafanaExposureProblems(env)) issue(p.path, p.message);
    for (const p of teamsProblems(env)) issue(p.path, p.message);

    const d = env.database;
    if (d.diskAutoresizeLimitGb < d.diskSizeGb) issue(["database", "diskAutoresizeLimitGb"], `at least diskSizeGb (${d.diskSizeGb})`);
    if (d.highAvailability && g.zones.length < 2)
      issue(["gcp", "zones"], "two zones when database.highAvailability is on (the standby lives in the second)");
    const instance = `${env.project}-${env.name}`;
    const instanceProblem = sqlInstanceIdProblem(instance);
    if (instanceProblem) issue(["name"], `a name that gives a valid Cloud SQL instance id: "${instance}" is not ${instanceProblem}`);

    const a = env.artifacts;
    if (a.transitionToGlacierIrDays !== undefined && a.transitionToGlacierIrDays < a.transitionToInfrequentAccessDays + 30)
      issue(
        ["artifacts", "transitionToGlacierIrDays"],
        `at least 30 days after transitionToInfrequentAccessDays (>= ${a.transitionToInfrequentAccessDays + 30})`,
      );
    if (a.expireDays !== undefined && a.expireDays <= (a.transitionToGlacierIrDays ?? a.transitionToInfrequentAccessDays))
      issue(
        ["artifacts", "expireDays"],
        `later than the last storage-class transition (> ${a.transitionToGlacierIrDays ?? a.transitionToInfrequentAccessDays} days)`,
      );
    if (a.noncurrentMaxDays <= a.noncurrentExpireDays)
      issue(["artifacts", "noncurrentMaxDays"], `more than noncurrentExpireDays (> ${a.noncurrentExpireDays} days)`);
    if (a.bucketName === undefined) {
      const derived = gcpArtifactBucketName(env);
      const p = gcsBucketNameProblem(derived);
      if (p)
        issue(
          ["name"],
          `a name that gives a valid artifact bucket name: "${derived}" is not ${p}; shorten project or name, or set artifacts.bucketName`,
        );
    }

    if (env.production) {
      if (!d.deletionProtection) issue(["database", "deletionProtection"], "true in a production environment");
      if (d.backupRetentionDays < 7) issue(["database", "backupRetentionDays"], "at least 7 days in a production environment");
      if (a.forceDestroy)
        issue(["artifacts", "forceDestroy"], "false in a production environment (it would let destroy delete every artifact)");
      if (env.auth.localTestProfile) issue(["auth", "localTestProfile"], "false in a production environment");
    }

    for (const [key, value] of Object.entries(env.tags)) {
      if ((STACK_LABELS as readonly string[]).includes(key)) {
        issue(["tags", key], `no "${key}" label: the stack sets ${STACK_LABELS.join(", ")} on every resource itself`);
        continue;
      }
      const p = gcpLabelKeyProblem(key) ?? gcpLabelValueProblem(value);
      if (p) issue(["tags", key], p);
    }
    if (Object.keys(env.tags).length > GCP_LABEL_LIMITS.perResource - STACK_LABELS.length)
      issue(
        ["tags"],
        `at most ${GCP_LABEL_LIMITS.perResource - STACK_LABELS.length} labels (Google allows ${GCP_LABEL_LIMITS.perResource} per resource)`,
      );

    // ── training (Argo Workflows): the AWS rules of the section, and the GKE cluster's own token issuer ──
    for (const p of cloudTrainingProblems(env, GCP_REFUSALS, gkeIssuerUrl(g))) issue(p.path, p.message);

    for (const p of gcpCiProblems(env)) issue(p.path, p.message);

    // ── registry events: channel secrets from Secret Manager or Kubernetes, never another cloud's store ──
    for (const p of secretSourceProblems(env.events, "gcp")) issue(p.path, p.message);

    // ── models: in the cluster or through the GKE Gateway; API Gateway is AWS's ──
    for (const p of gatewayExposureProblems(env, "a GCP environment")) issue(p.path, p.message);
  });

/** One GCP environment's configuration, validated and with defaults applied. */
export type GcpEnvironmentConfig = z.output<typeof gcpEnvironmentSchema>;

/** The artifact bucket's default name: `<project>-<env>-artifacts-<gcp project id>` (bucket names are global). */
export function gcpArtifactBucketName(env: { project: string; name: string; gcp: { projectId: string } }): string {
  return `${env.project}-${env.name}-artifacts-${env.gcp.projectId}`;
}

const NOT_YET = "not supported on GCP yet (docs/gcp.md#not-yet-supported)";

/**
 * Fields of an AWS environment that mean nothing on GCP, with what to write instead. A GCP entry that
 * carries one (often from `shared`) is refused at that field rather than silently ignored.
 */
export const AWS_ONLY_FIELDS: Record<string, string> = {
  aws: "gcp.projectId and gcp.region",
  cluster: "gcp.clusterName and gcp.network (GKE)",
  identity: "nothing: GKE Workload Identity binds each workload to its own Google service account",
  notifications: "nothing yet: Cloud SQL alerts go through monitoring's receivers",
  "ci.oidcProvider": "nothing: the stack creates the environment's own Workload Identity pool (ci.workloadIdentityPoolId)",
  "ci.planRoleName": "ci.planServiceAccountId",
  "ci.deployRoleName": "ci.deployServiceAccountId",
  "ci.imagePushRoleName": "nothing yet: model images are not released to GCP environments yet",
  "state.key": "state.prefix (gcs backend)",
  "state.region": "nothing: the state bucket's location is its own",
  "state.kmsKeyArn": "nothing: the state bucket's default key encrypts it",
  "ingress.certificateArn": "nothing: TLS terminates at the GKE Gateway (its certificate)",
  "ingress.scheme": "the Gateway's class (internal or external)",
  "ingress.sslPolicy": "the Gateway's SSL policy",
  "ingress.installLoadBalancerController": "nothing: GKE's Gateway controller is built in",
  "artifacts.accessLogging": "nothing yet: Cloud Audit Logs' data access logs",
  "artifacts.replicationRegion": "a dual-region bucket (not supported yet)",
  "database.instanceClass": "database.tier",
  "database.allocatedStorageGb": "database.diskSizeGb",
  "database.maxAllocatedStorageGb": "database.diskAutoresizeLimitGb",
  "database.multiAz": "database.highAvailability",
  "database.finalSnapshot": "nothing: Cloud SQL keeps backups per database.backupRetentionDays",
  "database.readReplica": "nothing yet: a Cloud SQL read replica is not supported yet",
  "database.backupWindow": "database.backupStartTime",
  "database.maintenanceWindow": "database.maintenanceDay and database.maintenanceHour",
  "database.monitoringIntervalSeconds": "nothing: Cloud SQL's metrics are built in",
  "auth.clientSecret.secretArn": 'auth.clientSecret { source: "kubernetes", secretName }',
  // The model images live in the environment's Artifact Registry repository, whose cleanup policy deletes untagged
  // images after a grace period (constructs/artifact-registry): ECR's lifecycle rules have no counterpart here.
  "serving.keepImages": "nothing: the Artifact Registry repository's cleanup policy removes untagged model images",
  "serving.expireTagPrefixes": "nothing: the Artifact Registry repository's cleanup policy removes untagged model images",
  // The Gateway's listener terminates TLS for the models' host names, as for MLflow's.
  "serving.ingress.certificateArn":
    "nothing: the GKE Gateway's listener certificate (ingress.certificateDomains) covers the models' host names",
  "serving.ingress.scheme": "nothing: the GKE Gateway (ingress.gatewayRef) decides whether the models are internal",
};

/** How a GCP environment names what it refuses (config/cloud-refusals.ts). */
export const GCP_REFUSALS: CloudRefusals = {
  environment: "a GCP environment",
  notYet: NOT_YET,
  awsOnlyFields: AWS_ONLY_FIELDS,
  stateBackend: 'state.backend "gcs" (with state.bucket and state.prefix) or "local"',
  gatewayApi: '"gateway-api" (an HTTPRoute on a GKE Gateway)',
  foreignSections: { azure: "Azure" },
};

/**
 * The AWS-only fields a GCP entry (merged with `shared`) carries, each with the message to report, and the
 * input without them (so each is reported once, as AWS-only, not again as an unknown key). Those that come from
 * `shared` (`fromShared`) are left out without a problem: they are the AWS environments' common settings.
 */
export function awsOnlyFields(
  merged: Record<string, unknown>,
  fromShared: (path: readonly string[]) => boolean,
): { problems: { path: string[]; value: unknown; message: string }[]; rest: Record<string, unknown>; covered: string[][] } {
  return refusedFields(merged, fromShared, GCP_REFUSALS);
}

/** The labels every Google resource of a GCP environment carries: the configured ones, then the stack's own. */
export function gcpLabels(env: Pick<GcpEnvironmentConfig, "tags" | "project" | "name">): Record<string, string> {
  return { ...env.tags, project: env.project, environment: env.name, "managed-by": "cdktf" };
}

/**
 * The service-account token issuer of a GKE cluster (what training.identity.issuerUrl names on GCP):
 * `https://container.googleapis.com/v1/projects/<project>/locations/<location>/clusters/<cluster>`.
 */
export function gkeIssuerUrl(g: { projectId: string; region: string; clusterName: string; clusterLocation?: string }): string {
  return `https://container.googleapis.com/v1/projects/${g.projectId}/locations/${g.clusterLocation ?? g.region}/clusters/${g.clusterName}`;
}
