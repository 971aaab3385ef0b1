/**
 * The schema of one environment's configuration. `config/environments.ts` supplies the values;
 * `config/load.ts` merges shared values with per-environment overrides and validates them here, once,
 * when the app starts. Everything downstream receives the parsed, typed `EnvironmentConfig`.
 *
 * Every message below completes the sentence "expected ..." in the error a user sees, so it says what
 * a valid value looks like.
 */
import { z } from "zod";
import { cpuProblem, memoryProblem, parseCpu, parseMemory } from "../constructs/core/quantity";
import { dnsLabel, email, hostname, imageRef } from "./primitives";
import { S3_KEY_PREFIX } from "../constructs/core/s3-prefix";
import {
  arnProblem,
  bucketNameProblem,
  certificateCoverageProblem,
  cronProblem,
  partitionOf,
  POSTGRES_MIN_MAJOR,
  rdsWindowProblems,
  regionProblem,
  TAG_LIMITS,
  tagKeyProblem,
  tagValueProblem,
  vpcCidrProblem,
  MODERN_ALB_TLS_POLICY,
  type ArnExpectation,
} from "../constructs/core/aws-limits";
import { OIDC_PROVIDER_ARN } from "../constructs/core/aws";
import { kubernetesVersionSchema } from "./kubernetes";
import { servingProblems, servingSchema } from "./serving";
import { registrySchema } from "./registry";
import { eventsSchema, secretSourceProblems } from "./events";
import { trainingProblems, trainingSchema } from "./training";
import { ciRoleArns, ciSchema } from "./ci";
import { accessSchema, teamsProblems, teamsSchema } from "./teams";
import { STATE_BUCKET_ACCOUNT_PLACEHOLDER, stateKeyAlias } from "./state";

/**
 * AWS regions known when this list was written, for examples and tests. The schema does not gate on it:
 * any region-shaped name is accepted (constructs/core/aws-limits.ts), so a new region needs no code change.
 */
export const AWS_REGIONS = [
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "af-south-1",
  "ap-east-1",
  "ap-east-2",
  "ap-south-1",
  "ap-south-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-6",
  "ap-southeast-7",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
  "ca-central-1",
  "ca-west-1",
  "eu-central-1",
  "eu-central-2",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "eu-south-1",
  "eu-south-2",
  "eu-north-1",
  "il-central-1",
  "me-south-1",
  "me-central-1",
  "mx-central-1",
  "sa-east-1",
  "us-gov-east-1",
  "us-gov-west-1",
] as const;

const ARN = /^arn:aws(-[a-z]+)*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$/;

const accountId = z.string().regex(/^\d{12}$/, { error: 'a 12-digit AWS account id such as "123456789012" (quoted, leading zeros kept)' });
/** A string field checked by one of the rule functions of constructs/core/aws-limits.ts or config/quantity.ts. */
const rule = (problem: (value: string) => string | undefined, base: z.ZodString = z.string()) =>
  base.superRefine((value, ctx) => {
    const p = problem(value);
    if (p) ctx.addIssue({ code: "custom", message: p });
  });
const region = rule(regionProblem);
const bucketName = rule(bucketNameProblem);
const mlflowHostname = hostname('"mlflow.example.com"', " (no scheme, port or path)");
const arn = (what: string) => z.string().regex(ARN, { error: `the ARN of ${what}, e.g. arn:aws:...` });
const httpsUrl = z.url({ protocol: /^https?$/, error: 'an absolute URL such as "https://login.example.com/realms/main"' });
const int = (min: number, max: number, what: string) =>
  z
    .number({ error: `${what}: a whole number from ${min} to ${max}` })
    .int({ error: `${what}: a whole number from ${min} to ${max}` })
    .min(min, { error: `${what}: a whole number from ${min} to ${max}` })
    .max(max, { error: `${what}: a whole number from ${min} to ${max}` });
const cpu = rule(cpuProblem);
const memory = rule(memoryProblem);
const cron = rule(cronProblem);
/** Placeholders a state key or path may contain. */
const statePathProblem =
  (what: string) =>
  (v: string): string | undefined => {
    const unknown = (v.match(/\{[^}]*\}/g) ?? []).filter((p) => p !== "{env}");
    if (unknown.length > 0) return `${what} whose only placeholder is {env} (the environment's name), not ${unknown.join(", ")}`;
    if (what === "an S3 object key" && (v.startsWith("/") || v.endsWith("/") || v.includes("//")))
      return `${what} without a leading or trailing '/' and without "//", such as "mlflow/{env}/terraform.tfstate"`;
    return undefined;
  };

export const resourcesSchema = z
  .object({
    requests: z
      .object({
        cpu: cpu.describe('CPU request (scheduling guarantee), e.g. "250m".'),
        memory: memory.describe('Memory request, e.g. "1Gi".'),
      })
      .strict(),
    limits: z
      .object({
        cpu: cpu.optional().describe("CPU limit; unset by default so pods are throttled by nobody but their node."),
        memory: memory.describe("Memory limit (at least the request); the pod is killed above it."),
      })
      .strict(),
  })
  .strict();

export const replicasSchema = z
  .object({
    min: int(1, 100, "replicas").describe("Lowest replica count (the HorizontalPodAutoscaler's minReplicas)."),
    max: int(1, 100, "replicas").describe("Highest replica count (the HorizontalPodAutoscaler's maxReplicas)."),
  })
  .strict();

const awsSchema = z
  .object({
    accountId: accountId.describe("The account this environment lives in; the AWS provider refuses to touch any other."),
    region: region.describe(
      'The environment\'s AWS region, e.g. "eu-west-1": any region name is accepted (a region AWS opens later needs no code change); GovCloud, China and the isolated regions get their own ARN partition.',
    ),
    assumeRoleArn: arn("an IAM role")
      .optional()
      .describe("Role assumed by Terraform for this environment (cross-account deployments). Optional."),
    assumeRoleExternalId: z
      .string()
      .min(2)
      .max(1224)
      .optional()
      .describe("External id required by the assumed role's trust policy, if any."),
  })
  .strict();

const stateSchema = z.discriminatedUnion(
  "backend",
  [
    z
      .object({
        backend: z.literal("s3").describe("Remote state in S3: encrypted, locked with a lock file (Terraform >= 1.10)."),
        bucket: rule((v) => bucketNameProblem(v.replaceAll(STATE_BUCKET_ACCOUNT_PLACEHOLDER, "000000000000"))).describe(
          "The S3 bucket holding the Terraform state, in this environment's own account (one bucket per account; `npm run bootstrap -- <env>` creates it with its KMS key and policy). `{account}` is replaced with aws.accountId, so one value in `shared` names each account's bucket, e.g. \"acme-terraform-state-{account}\". Environments in different accounts may not share a bucket.",
        ),
        key: rule(statePathProblem("an S3 object key"), z.string().min(1))
          .default("mlflow/{env}/terraform.tfstate")
          .describe(
            "Object key; `{env}` is replaced with the environment name. No two environments may resolve to the same bucket and key (they would overwrite each other's state).",
          ),
        region: region.optional().describe("Region of the state bucket; defaults to the environment's region."),
        kmsKeyArn: arn("a KMS key")
          .optional()
          .describe(
            "Customer-managed KMS key (key or alias ARN, in the environment's account and the state bucket's region) that encrypts the state object (SSE-KMS). Default: the alias `alias/<project>-terraform-state`, which `npm run bootstrap -- <env>` creates.",
          ),
      })
      .strict(),
    z
      .object({
        backend: z.literal("local").describe("State in a local file (experiments only: no locking, no sharing)."),
        path: rule(statePathProblem("a file path"), z.string().min(1))
          .default("../../../terraform.{env}.tfstate")
          .describe(
            "Path of the state file, relative to the stack's folder in cdktf.out; `{env}` is replaced. No two environments may resolve to the same file.",
          ),
      })
      .strict(),
  ],
  { error: 'state.backend: "s3" (remote, encrypted, locked) or "local"' },
);

const clusterSchema = z
  .object({
    name: z
      .string()
      .regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, { error: "an EKS cluster name (letters, digits, '-', '_', at most 100)" })
      .describe("Name of the existing EKS cluster the platform deploys into."),
    auth: z
      .enum(["exec", "token"])
      .default("exec")
      .describe(
        "How Terraform authenticates to the cluster: `exec` runs `aws eks get-token` for every call (never expires during a long apply); `token` uses the aws_eks_cluster_auth data source (no AWS CLI needed, the token lives 15 minutes).",
      ),
    privateSubnetIds: z
      .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { error: 'a subnet id such as "subnet-0123456789abcdef0"' }))
      .default([])
      .describe(
        "Private subnets for the database; looked up from the cluster's VPC (subnets tagged kubernetes.io/role/internal-elb) when empty.",
      ),
    clientSecurityGroupId: z
      .string()
      .regex(/^sg-[0-9a-f]{8,17}$/, { error: 'a security group id such as "sg-0123456789abcdef0"' })
      .optional()
      .describe(
        "Security group of the cluster's nodes or pods allowed to reach the database; defaults to the cluster security group EKS creates.",
      ),
    oidcProviderArn: arn("the cluster's IAM OIDC provider").optional().describe("IRSA only: the ARN of the cluster's IAM OIDC provider."),
    kubernetesVersion: kubernetesVersionSchema,
  })
  .strict();

const artifactsSchema = z
  .object({
    bucketName: bucketName.optional().describe("Bucket name; defaults to `<project>-<env>-artifacts-<account id>` (globally unique)."),
    prefix: z
      .string()
      .regex(S3_KEY_PREFIX, { error: "an S3 key prefix without leading or trailing '/', such as \"mlartifacts\"" })
      .default("mlartifacts")
      .describe("Key prefix under which MLflow stores artifacts (`s3://<bucket>/<prefix>/<experiment id>/<run id>/artifacts/...`)."),
    forceDestroy: z
      .boolean()
      .default(false)
      .describe("Let `terraform destroy` delete a bucket that still holds objects. Only for throw-away environments."),
    transitionToInfrequentAccessDays: int(30, 36500, "days")
      .default(30)
      .describe("Days after which artifacts move to STANDARD_IA (minimum 30, an S3 rule)."),
    transitionToGlacierIrDays: int(60, 36500, "days")
      .optional()
      .describe("Days after which artifacts move to GLACIER_IR (millisecond retrieval, 90-day minimum storage)."),
    expireDays: int(1, 36500, "days")
      .optional()
      .describe("Days after which current artifacts expire (are deleted). Off by default: MLflow's gc deletes runs."),
    noncurrentVersionsToKeep: int(0, 100, "versions")
      .default(3)
      .describe("How many noncurrent versions of each object to keep (overwritten or deleted artifacts)."),
    noncurrentExpireDays: int(1, 36500, "days").default(30).describe("Days after which noncurrent versions beyond that count expire."),
    noncurrentMaxDays: int(1, 36500, "days")
      .default(365)
      .describe(
        "Hard cap: every noncurrent version (the kept newest ones included) expires this many days after it became noncurrent, so deleted artifacts do not accumulate forever.",
      ),
    abortIncompleteMultipartUploadDays: int(1, 365, "days")
      .default(3)
      .describe("Days after which incomplete multipart uploads are aborted."),
    accessLogging: z.boolean().default(false).describe("Write S3 server access logs to a separate log bucket."),
    replicationRegion: region.optional().describe("Replicate artifacts to a bucket in another region (prod disaster recovery)."),
  })
  .strict();

const databaseSchema = z
  .object({
    engineVersion: z
      .string()
      .regex(/^\d{2}$/, {
        error: 'a PostgreSQL major version such as "17" (no minor: RDS applies minor upgrades automatically in the maintenance window)',
      })
      .refine((v) => Number(v) >= POSTGRES_MIN_MAJOR, {
        error: `PostgreSQL ${POSTGRES_MIN_MAJOR} or later (older majors are out of RDS standard support)`,
      })
      .default("17")
      .describe(
        'PostgreSQL major version (e.g. "17"). RDS picks the current minor at creation and applies minor upgrades in the maintenance window (auto minor version upgrade), without drift in Terraform; a major upgrade is a deliberate change of this value.',
      ),
    instanceClass: z
      .string()
      .regex(/^db\.[a-z][a-z0-9-]*\.(micro|small|medium|large|xlarge|\d{1,2}xlarge|metal(-\d+xl)?)$/, {
        error: 'an RDS instance class such as "db.t4g.micro" or "db.r7g.large"',
      })
      .describe("RDS instance class."),
    allocatedStorageGb: int(20, 65536, "GiB").describe("Allocated gp3 storage in GiB (RDS minimum 20)."),
    maxAllocatedStorageGb: int(20, 65536, "GiB").describe("Storage autoscaling ceiling in GiB; must be at least the allocated storage."),
    multiAz: z.boolean().describe("A standby in a second availability zone with automatic failover (doubles the instance cost)."),
    deletionProtection: z.boolean().describe("RDS refuses to delete the instance while this is on (required in production environments)."),
    finalSnapshot: z.boolean().describe("Take a final snapshot when the instance is destroyed."),
    backupRetentionDays: int(0, 35, "days").describe("Automated backup retention in days (RDS allows 0-35; 0 disables backups)."),
    readReplica: z
      .boolean()
      .default(false)
      .describe("A read replica that the tracking server uses for reads (`--read-replica-backend-store-uri`)."),
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,62}$/, { error: "a PostgreSQL identifier: lower-case letters, digits, '_', starting with a letter" })
      .default("mlflow")
      .describe("Database name MLflow uses."),
    backupWindow: z.string().default("02:00-03:00").describe("Preferred daily backup window (UTC, hh24:mi-hh24:mi, at least 30 minutes)."),
    maintenanceWindow: z
      .string()
      .default("sun:04:00-sun:05:00")
      .describe(
        "Preferred weekly maintenance window (UTC, ddd:hh24:mi-ddd:hh24:mi, at least 30 minutes); must not overlap the backup window.",
      ),
    monitoringIntervalSeconds: z
      .union([z.literal(0), z.literal(1), z.literal(5), z.literal(10), z.literal(15), z.literal(30), z.literal(60)], {
        error: "one of 0, 1, 5, 10, 15, 30, 60",
      })
      .default(60)
      .describe("Enhanced monitoring interval in seconds (0 turns it off)."),
    slowStatementMs: int(0, 3600000, "milliseconds")
      .default(1000)
      .describe("Statements slower than this are logged (log_min_duration_statement), in milliseconds."),
  })
  .strict();

const mlflowSchema = z
  .object({
    version: z
      .string()
      .regex(/^3\.\d+\.\d+$/, { error: 'an exact MLflow 3.x version such as "3.17.2"' })
      .default("3.17.2")
      .describe("The MLflow version: one value used by the image, the migration Job name, the labels and the e2e tests."),
    image: imageRef('"ghcr.io/mlflow/mlflow:v3.17.2-full" or "repo/image@sha256:<64 hex>"')
      .optional()
      .describe(
        "Image override; defaults to the official `ghcr.io/mlflow/mlflow:v<version>-full` (with psycopg2, boto3 and the Prometheus exporter).",
      ),
    namespace: dnsLabel.default("mlflow").describe("Namespace of the tracking server, its jobs and the proxy."),
    port: int(1024, 65535, "port").default(5000).describe("Port the tracking server listens on."),
    workers: int(1, 64, "workers").default(2).describe("Server worker processes per pod."),
    uvicornOpts: z.string().optional().describe('Extra uvicorn options, e.g. "--timeout-keep-alive 120".'),
    replicas: replicasSchema,
    targetCpuUtilizationPercent: int(10, 100, "percent")
      .default(70)
      .describe("Target average CPU utilisation for the HorizontalPodAutoscaler, in percent of the request."),
    resources: resourcesSchema,
    extraAllowedHosts: z
      .array(z.string().min(1))
      .default([])
      .describe("Hostnames accepted besides the public one and the in-cluster service names."),
    gc: z
      .object({
        schedule: cron.default("30 3 * * *").describe("When the garbage-collection CronJob runs (cron, UTC)."),
        olderThanDays: int(1, 3650, "days")
          .default(30)
          .describe("Hard-delete runs that were deleted more than this many days ago (at least 1)."),
      })
      .strict()
      .default({ schedule: "30 3 * * *", olderThanDays: 30 }),
  })
  .strict();

const clientSecretSchema = z.discriminatedUnion(
  "source",
  [
    z
      .object({
        source: z
          .literal("secrets-manager")
          .describe("The client secret lives in AWS Secrets Manager; the stack copies it into a Kubernetes Secret."),
        secretArn: arn("a Secrets Manager secret").describe(
          "ARN of the Secrets Manager secret whose string is the OIDC client secret (create it before the first deploy).",
        ),
      })
      .strict(),
    z
      .object({
        source: z.literal("kubernetes").describe("An operator creates the Kubernetes Secret (for example with External Secrets)."),
        secretName: dnsLabel.describe("Name of the Kubernetes Secret in the MLflow namespace (it must exist before the proxy can start)."),
        key: z.string().min(1).default("client-secret").describe("Key of that Secret holding the client secret."),
      })
      .strict(),
  ],
  { error: 'auth.clientSecret.source: "secrets-manager" (with secretArn) or "kubernetes" (with secretName)' },
);

const authSchema = z
  .object({
    proxyVersion: z
      .string()
      .regex(/^7\.\d+\.\d+$/, { error: 'an exact oauth2-proxy 7.x version such as "7.15.6"' })
      .default("7.15.6")
      .describe(
        "oauth2-proxy version (image quay.io/oauth2-proxy/oauth2-proxy:v<version>-alpine, which has the sleep of the drain pause; the e2e tests build the same).",
      ),
    issuerUrl: httpsUrl.describe("OpenID Connect issuer URL (HTTPS)."),
    clientId: z.string().min(1, { error: "the OIDC client id" }).describe("OIDC client id registered for this environment."),
    clientSecret: clientSecretSchema,
    allowedEmailDomains: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'E-mail domains allowed to sign in (e.g. "example.com"; ".example.com" for its sub-domains). Deny by default: set this, or allowAnyEmailDomain. Every request must carry an e-mail in one of them (checked by the proxy and again by the tracking server\'s guard, also for tokens without an e-mail claim).',
      ),
    allowAnyEmailDomain: z
      .boolean()
      .default(false)
      .describe(
        "Allow an e-mail address of any domain (oauth2-proxy's `*`): the explicit, named choice for an allow-list of groups only. A request still needs a verified e-mail. Requires auth.allowedGroups; refused together with allowedEmailDomains.",
      ),
    allowedGroups: z.array(z.string().min(1)).default([]).describe("Groups (from the groups claim) allowed to sign in."),
    extraJwtIssuers: z
      .array(
        z
          .object({
            issuer: httpsUrl.describe("Issuer URL of the extra token issuer."),
            audience: z.string().min(1).describe("Audience its tokens must carry."),
          })
          .strict(),
      )
      .default([])
      .describe("Extra issuer/audience pairs whose bearer tokens pipelines may present."),
    scopes: z.array(z.string().min(1)).default(["openid", "email", "profile", "groups"]).describe("OIDC scopes requested at sign-in."),
    groupsClaim: z.string().min(1).default("groups").describe("Claim holding the user's groups."),
    cookieExpireHours: int(1, 720, "hours").default(12).describe("Session cookie lifetime in hours."),
    cookieRefreshMinutes: int(1, 43200, "minutes")
      .default(60)
      .describe("Session refresh interval in minutes (the id token is re-validated this often)."),
    drainSeconds: int(1, 3900, "seconds")
      .optional()
      .describe(
        "How long a stopping proxy pod keeps serving before SIGTERM (preStop pause), so the load balancer stops sending it requests first; above the deregistration delay. Default: ingress.deregistrationDelaySeconds + 15.",
      ),
    localTestProfile: z
      .boolean()
      .default(false)
      .describe("Allow a plain-HTTP issuer. Only for local end-to-end test profiles, never a real environment."),
    replicas: replicasSchema,
    resources: resourcesSchema,
  })
  .strict();

const ingressSchema = z
  .object({
    kind: z
      .enum(["alb", "gateway-api"])
      .default("alb")
      .describe("How traffic enters: an ALB Ingress (AWS Load Balancer Controller) or a Gateway API HTTPRoute."),
    certificateArn: arn("an ACM certificate").describe("ACM certificate for the public hostname."),
    certificateDomains: z
      .array(z.string().min(1))
      .min(1, { error: "at least one domain the certificate covers" })
      .describe('Domains the certificate covers ("mlflow.example.com" or "*.example.com"); the hostname must match one.'),
    scheme: z.enum(["internet-facing", "internal"]).default("internal").describe("`internet-facing` or `internal` load balancer."),
    sslPolicy: z
      .string()
      .regex(MODERN_ALB_TLS_POLICY, {
        error: 'an ALB TLS policy that allows only TLS 1.2 and 1.3, such as "ELBSecurityPolicy-TLS13-1-2-2021-06"',
      })
      .default("ELBSecurityPolicy-TLS13-1-2-2021-06")
      .describe("ALB TLS policy (TLS 1.2 and 1.3 only)."),
    idleTimeoutSeconds: int(60, 4000, "seconds")
      .default(600)
      .describe("Load balancer idle timeout in seconds; the proxy and MLflow timeouts are derived from it (large artifacts)."),
    deregistrationDelaySeconds: int(0, 3600, "seconds")
      .optional()
      .describe(
        "ALB target group deregistration delay in seconds: how long requests in flight to a stopping proxy pod may finish. The proxy pods keep serving longer (auth.drainSeconds). Default: idleTimeoutSeconds (at most 3600).",
      ),
    vpcCidrs: z
      .array(rule(vpcCidrProblem))
      .min(1, { error: "at least one CIDR block of the VPC" })
      .describe("CIDR blocks of the VPC (the load balancer's source range for the proxy's NetworkPolicy)."),
    gatewayRef: z
      .object({ namespace: dnsLabel.describe("Namespace of the Gateway."), name: dnsLabel.describe("Name of the Gateway.") })
      .strict()
      .optional()
      .describe("Gateway API only: the Gateway (namespace/name) the HTTPRoute attaches to."),
    installLoadBalancerController: z
      .boolean()
      .default(false)
      .describe("Install the AWS Load Balancer Controller (Helm) with its IAM role."),
  })
  .strict();

const monitoringSchema = z
  .object({
    mode: z
      .enum(["install", "existing"])
      .default("install")
      .describe("`install` kube-prometheus-stack, or attach to an `existing` Prometheus operator."),
    namespace: dnsLabel
      .default("monitoring")
      .describe("Namespace of Prometheus, Alertmanager and Grafana (or of the existing Prometheus operator)."),
    retentionDays: int(1, 3650, "days").default(15).describe("Prometheus retention in days."),
    storageGb: int(1, 16384, "GiB").default(50).describe("Prometheus volume size in GiB."),
    prometheusPodLabels: z
      .record(z.string(), z.string())
      .refine((l) => Object.keys(l).length > 0, { error: "at least one label" })
      .default({ "app.kubernetes.io/name": "prometheus" })
      .describe(
        "Labels of the Prometheus pods (in monitoring.namespace) that the NetworkPolicies let scrape MLflow and the proxy; the Prometheus Operator's default. Change it for an existing Prometheus labelled otherwise.",
      ),
    runbookBaseUrl: z
      .url({ protocol: /^https$/, error: 'an https:// URL such as "https://github.com/acme/mlflow-platform/blob/main/docs/monitoring.md"' })
      .optional()
      .describe(
        "Where alert runbook links point (`<url>#<alert name>`): your fork's docs/monitoring.md, so the link opens from Slack or e-mail. Default: the relative `docs/monitoring.md`.",
      ),
    grafanaHostname: mlflowHostname
      .optional()
      .describe("Grafana hostname (served behind the same sign-on); omit to keep Grafana internal."),
    grafanaOidc: z
      .object({
        authUrl: httpsUrl.describe("The issuer's authorization endpoint."),
        tokenUrl: httpsUrl.describe("The issuer's token endpoint."),
        userInfoUrl: httpsUrl.describe("The issuer's userinfo endpoint."),
        adminGroups: z
          .array(z.string().min(1))
          .default([])
          .describe("Groups whose members become Grafana admins; everyone else allowed to sign in is a Viewer."),
      })
      .strict()
      .optional()
      .describe(
        "Grafana's own OIDC sign-in against auth.issuerUrl (same client id; add https://<grafanaHostname>/login/generic_oauth to its redirect URIs). Grafana reads no discovery document: copy these endpoints from <issuer>/.well-known/openid-configuration. Required with grafanaHostname.",
      ),
    alertsReachNobody: z
      .boolean()
      .default(false)
      .describe(
        "Accept that alerts reach nobody: they fire in Alertmanager but no receiver is configured (neither slack, discord nor email). Required, as an explicit choice, for a production environment without a receiver; silences the synth warning elsewhere. No effect when a receiver is set.",
      ),
    slack: z
      .object({
        channel: z
          .string()
          .regex(/^#?[a-z0-9_-]+$/, { error: 'a Slack channel such as "#mlflow-alerts"' })
          .describe("Slack channel the alerts go to."),
        webhookSecretName: dnsLabel.describe(
          "Name of the Kubernetes Secret (in the monitoring namespace) whose `url` key holds the webhook URL.",
        ),
      })
      .strict()
      .optional(),
    discord: z
      .object({
        webhookSecretName: dnsLabel.describe(
          "Name of the Kubernetes Secret (in the monitoring namespace) whose `url` key holds the Discord channel webhook URL.",
        ),
      })
      .strict()
      .optional()
      .describe("Alerts to a Discord channel as well (beside or instead of Slack)."),
    email: z
      .object({
        to: z.array(email).min(1).describe("Recipients of alert e-mails."),
        from: email.describe("Sender address of alert e-mails."),
        smarthost: z
          .string()
          .regex(/^[a-z0-9.-]+:\d+$/, { error: 'host:port such as "email-smtp.eu-west-1.amazonaws.com:587"' })
          .describe("SMTP server host:port."),
        authUsername: z.string().optional().describe("SMTP user name; the password comes from the Secret below."),
        authPasswordSecretName: dnsLabel
          .optional()
          .describe("Kubernetes Secret (monitoring namespace) whose `password` key holds the SMTP password."),
      })
      .strict()
      .optional(),
    thresholds: z
      .object({
        errorRatio: z
          .number()
          .gt(0)
          .lt(1)
          .default(0.05)
          .describe("Share of tracking-server responses that are 5xx above which an alert fires."),
        latencyP95Seconds: z.number().positive().default(2).describe("p95 request latency (seconds) above which an alert fires."),
        latencyP99Seconds: z.number().positive().default(5).describe("p99 request latency (seconds) above which an alert fires."),
        authFailuresPerSecond: z
          .number()
          .positive()
          .default(1)
          .describe("Refused requests per second at the proxy (401/403) above which an alert fires."),
        volumeFullPercent: z.number().gt(0).lt(100).default(85).describe("Prometheus volume usage (percent) above which an alert fires."),
      })
      .strict()
      .default({ errorRatio: 0.05, latencyP95Seconds: 2, latencyP99Seconds: 5, authFailuresPerSecond: 1, volumeFullPercent: 85 }),
  })
  .strict();

const notificationsSchema = z
  .object({
    emails: z.array(email).default([]).describe("Addresses subscribed (by e-mail) to the alarm topic. Each must confirm the subscription."),
    webhookUrl: z
      .url({ protocol: /^https$/, error: "an https:// URL" })
      .optional()
      .describe("HTTPS endpoint subscribed to the alarm topic (for example an incident tool's SNS integration). Must not embed a secret."),
  })
  .strict();

/** Tags the stack sets on every AWS resource itself (config/tags.ts defaultTags). */
export const STACK_TAGS = ["project", "environment", "managed-by"] as const;

/** Namespaces a cluster has of its own (and Kubernetes reserves the kube- prefix). */
const SYSTEM_NAMESPACE = /^(default|kube-.*)$/;

/** The IAM role names the stack derives from project and name, and when it creates each. */
function derivedRoleNames(env: {
  project: string;
  name: string;
  database: { monitoringIntervalSeconds: number };
  monitoring: { mode: string };
  ingress: { installLoadBalancerController: boolean };
}): string[] {
  const stack = `${env.project}-${env.name}`;
  return [
    `${stack}-tracking-server`,
    ...(env.database.monitoringIntervalSeconds > 0 ? [`${stack}-rds-monitoring`] : []),
    ...(env.monitoring.mode === "install" ? [`${stack}-grafana-cloudwatch`] : []),
    ...(env.ingress.installLoadBalancerController ? [`${stack}-aws-load-balancer-controller`] : []),
  ];
}

export const environmentSchema = z
  .object({
    // GCP and Azure environments have their own schemas (config/gcp.ts, config/azure.ts); config/load.ts picks one by this field.
    cloud: z
      .literal("aws", { error: '"aws" (the default), "gcp" or "azure"' })
      .default("aws")
      .describe(
        'The cloud below Kubernetes: "aws" (EKS, RDS, S3; the default), "gcp" (GKE, Cloud SQL, Cloud Storage: docs/gcp.md) or "azure" (AKS, PostgreSQL flexible server, Blob Storage: docs/azure.md).',
      ),
    name: dnsLabel.describe("Environment name; the stack is `<project>-<name>`."),
    project: dnsLabel.default("mlflow").describe("Short project name used in stack, resource and bucket names."),
    production: z
      .boolean()
      .default(false)
      .describe("A production environment: the rules for data safety are enforced (deletion protection, final snapshot, backups)."),
    aws: awsSchema,
    tags: z
      .record(z.string(), z.string())
      .default({})
      .describe(
        `Extra tags applied to every AWS resource (project, environment and managed-by are set by the stack and cannot be given here; no "aws:" prefix; keys up to ${TAG_LIMITS.keyLength}, values up to ${TAG_LIMITS.valueLength} characters; at most ${TAG_LIMITS.perResource - STACK_TAGS.length} tags).`,
      ),
    state: stateSchema,
    cluster: clusterSchema,
    hostname: mlflowHostname.describe("Public hostname of the tracking server (behind the proxy)."),
    identity: z
      .object({
        mode: z
          .enum(["pod-identity", "irsa"])
          .default("pod-identity")
          .describe("EKS Pod Identity (needs the eks-pod-identity-agent add-on) or IRSA (needs cluster.oidcProviderArn)."),
      })
      .strict()
      .default({ mode: "pod-identity" }),
    artifacts: artifactsSchema,
    database: databaseSchema,
    mlflow: mlflowSchema,
    auth: authSchema,
    ingress: ingressSchema,
    monitoring: monitoringSchema,
    notifications: notificationsSchema.default({ emails: [] }),
    serving: servingSchema.prefault({}).describe("Models served as REST microservices (config/serving.ts)."),
    registry: registrySchema
      .prefault({})
      .describe(
        "Model registry: promotion gates (registry tool) and retention of model versions (retention CronJob). See docs/model-registry.md.",
      ),
    events: eventsSchema,
    training: trainingSchema,
    ci: ciSchema
      .optional()
      .describe(
        "GitHub Actions access to this environment's account (config/ci.ts, docs/ci-cd.md): the OIDC provider and the plan, deploy and image-push roles. Without it the stack creates no CI role.",
      ),
    teams: teamsSchema,
    access: accessSchema,
  })
  .strict()
  .superRefine((env, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    for (const p of trainingProblems(env)) issue(p.path, p.message);
    for (const p of teamsProblems(env)) issue(p.path, p.message);
    for (const p of servingProblems(env)) issue(p.path, p.message);
    for (const p of secretSourceProblems(env.events, "aws")) issue(p.path, p.message);
    if (env.production && env.ci?.autoDeploy)
      issue(["ci", "autoDeploy"], "false in a production environment: its deploy waits for a reviewer of the GitHub Environment");

    for (const [path, r] of [
      [["mlflow", "replicas"], env.mlflow.replicas],
      [["auth", "replicas"], env.auth.replicas],
    ] as const) {
      if (r.min > r.max) issue([...path, "min"], `at most replicas.max (${r.max})`);
    }
    for (const [path, res] of [
      [["mlflow", "resources"], env.mlflow.resources],
      [["auth", "resources"], env.auth.resources],
    ] as const) {
      if (parseMemory(res.limits.memory)! < parseMemory(res.requests.memory)!) {
        issue([...path, "limits", "memory"], `at least the memory request (${res.requests.memory})`);
      }
      if (res.limits.cpu !== undefined && parseCpu(res.limits.cpu)! < parseCpu(res.requests.cpu)!) {
        issue([...path, "limits", "cpu"], `at least the CPU request (${res.requests.cpu})`);
      }
    }

    const a = env.artifacts;
    if (a.transitionToGlacierIrDays !== undefined && a.transitionToGlacierIrDays < a.transitionToInfrequentAccessDays + 30) {
      issue(
        ["artifacts", "transitionToGlacierIrDays"],
        `at least 30 days after transitionToInfrequentAccessDays (>= ${a.transitionToInfrequentAccessDays + 30})`,
      );
    }
    if (a.expireDays !== undefined) {
      const lastTransition = a.transitionToGlacierIrDays ?? a.transitionToInfrequentAccessDays;
      if (a.expireDays <= lastTransition) {
        issue(
          ["artifacts", "expireDays"],
          `later than the last storage-class transition (> ${lastTransition} days), or remove the transitions`,
        );
      }
    }

    if (a.noncurrentMaxDays <= a.noncurrentExpireDays) {
      issue(
        ["artifacts", "noncurrentMaxDays"],
        `more than noncurrentExpireDays (> ${a.noncurrentExpireDays} days): it caps how long the kept noncurrent versions live`,
      );
    }

    const d = env.database;
    if (d.maxAllocatedStorageGb < d.allocatedStorageGb) {
      issue(["database", "maxAllocatedStorageGb"], `at least allocatedStorageGb (${d.allocatedStorageGb})`);
    }
    if (d.readReplica && d.backupRetentionDays < 1) {
      issue(["database", "backupRetentionDays"], "at least 1 when readReplica is on (RDS needs backups to create a replica)");
    }

    if (env.production) {
      if (!d.deletionProtection) issue(["database", "deletionProtection"], "true in a production environment");
      if (!d.finalSnapshot) issue(["database", "finalSnapshot"], "true in a production environment");
      if (d.backupRetentionDays < 7) issue(["database", "backupRetentionDays"], "at least 7 days in a production environment");
      if (a.forceDestroy)
        issue(["artifacts", "forceDestroy"], "false in a production environment (it would let destroy delete every artifact)");
      if (env.auth.localTestProfile) issue(["auth", "localTestProfile"], "false in a production environment");
    }

    if (!env.auth.localTestProfile && !env.auth.issuerUrl.startsWith("https://")) {
      issue(["auth", "issuerUrl"], "an https:// issuer URL (plain HTTP is only allowed with auth.localTestProfile)");
    }
    for (const [i, e] of env.auth.extraJwtIssuers.entries()) {
      if (!env.auth.localTestProfile && !e.issuer.startsWith("https://")) {
        issue(["auth", "extraJwtIssuers", i, "issuer"], "an https:// issuer URL");
      }
    }
    if (env.auth.allowedEmailDomains.length === 0 && env.auth.allowedGroups.length === 0) {
      issue(
        ["auth", "allowedEmailDomains"],
        "at least one allowed e-mail domain or group (auth.allowedGroups): access is denied by default, say who may sign in",
      );
    }
    const deregistrationDelay = env.ingress.deregistrationDelaySeconds ?? Math.min(env.ingress.idleTimeoutSeconds, 3600);
    if (env.auth.drainSeconds !== undefined && env.auth.drainSeconds <= deregistrationDelay) {
      issue(
        ["auth", "drainSeconds"],
        `more than the load balancer's deregistration delay (${deregistrationDelay} s, ingress.deregistrationDelaySeconds): the proxy would stop while the load balancer still sends it requests`,
      );
    }
    // An allow-list of "*" is a named choice (allowAnyEmailDomain), never a value or the result of an empty list.
    for (const [i, d] of env.auth.allowedEmailDomains.entries()) {
      if (!/^(\*\.|\.)?[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$/i.test(d)) {
        issue(
          ["auth", "allowedEmailDomains", i],
          d.includes("*") && !d.startsWith("*.")
            ? 'a domain such as "example.com": to allow every domain, set auth.allowAnyEmailDomain: true (with auth.allowedGroups) instead of a wildcard'
            : 'a domain such as "example.com" (or ".example.com" for its sub-domains)',
        );
      }
    }
    if (env.auth.allowAnyEmailDomain && env.auth.allowedEmailDomains.length > 0) {
      issue(
        ["auth", "allowAnyEmailDomain"],
        "false when auth.allowedEmailDomains is set (any domain would make the domain list meaningless): remove one of them",
      );
    }
    if (env.auth.allowAnyEmailDomain && env.auth.allowedGroups.length === 0) {
      issue(
        ["auth", "allowAnyEmailDomain"],
        "used with auth.allowedGroups (any e-mail domain and no group would admit every account of the issuer): name the groups, or list the domains in auth.allowedEmailDomains",
      );
    }
    if (env.auth.allowedEmailDomains.length === 0 && env.auth.allowedGroups.length > 0 && !env.auth.allowAnyEmailDomain) {
      issue(
        ["auth", "allowedEmailDomains"],
        "at least one e-mail domain, or auth.allowAnyEmailDomain: true to let the groups in auth.allowedGroups decide alone (an open domain list is an explicit choice)",
      );
    }
    if (env.auth.cookieRefreshMinutes >= env.auth.cookieExpireHours * 60) {
      issue(
        ["auth", "cookieRefreshMinutes"],
        `shorter than the cookie lifetime (${env.auth.cookieExpireHours * 60} minutes): the session would expire before it is ever refreshed`,
      );
    }

    const hostCovered = certificateCoverageProblem(env.ingress.certificateDomains, env.hostname, "ingress.certificateDomains");
    if (hostCovered) issue(["hostname"], hostCovered);
    if (env.monitoring.grafanaHostname && !env.monitoring.grafanaOidc) {
      issue(
        ["monitoring", "grafanaOidc"],
        "Grafana's sign-in endpoints (authUrl, tokenUrl, userInfoUrl from the issuer's discovery document) when monitoring.grafanaHostname is set: Grafana is never exposed without sign-in",
      );
    }
    const grafanaCovered =
      env.monitoring.grafanaHostname &&
      certificateCoverageProblem(env.ingress.certificateDomains, env.monitoring.grafanaHostname, "ingress.certificateDomains");
    if (grafanaCovered) issue(["monitoring", "grafanaHostname"], grafanaCovered);
    if (env.ingress.kind === "gateway-api" && !env.ingress.gatewayRef) {
      issue(["ingress", "gatewayRef"], 'the Gateway (namespace and name) the HTTPRoute attaches to, when ingress.kind is "gateway-api"');
    }

    // ── ARNs: the right service and resource type, partition, region and account ──
    // (compared with aws.accountId and aws.region only when those are valid: their own problem is reported)
    const regionOk = regionProblem(env.aws.region) === undefined;
    const accountOk = /^\d{12}$/.test(env.aws.accountId);
    const partition = partitionOf(env.aws.region);
    const account = { id: env.aws.accountId, why: `not aws.accountId (${env.aws.accountId})` };
    const arnRule = (
      path: (string | number)[],
      value: string | undefined,
      e: Omit<ArnExpectation, "partition"> & { partition?: ArnExpectation["partition"] },
    ) => {
      const p =
        value === undefined
          ? undefined
          : arnProblem(value, {
              partition,
              ...e,
              region: regionOk ? e.region : undefined,
              account: accountOk ? e.account : undefined,
            });
      if (p) issue(path, p);
    };
    arnRule(["aws", "assumeRoleArn"], env.aws.assumeRoleArn, {
      what: "an IAM role",
      service: "iam",
      resource: /^role\/.+/,
      example: "role/mlflow-deployer",
      regional: false,
      account: {
        id: env.aws.accountId,
        why: `not aws.accountId (${env.aws.accountId}): Terraform assumes it and then works only in that account`,
      },
    });
    if (env.state.backend === "s3") {
      const stateRegion = env.state.region ?? env.aws.region;
      const statePartition = partitionOf(stateRegion);
      arnRule(["state", "kmsKeyArn"], env.state.kmsKeyArn, {
        what: "a KMS key",
        service: "kms",
        resource: /^(key|alias)\/.+/,
        example: "key/<key id>",
        regional: true,
        partition: statePartition,
        region: { name: stateRegion, why: `not the state bucket's region (${stateRegion}): S3 encrypts only with keys of its own region` },
        account: {
          id: env.aws.accountId,
          why: `not aws.accountId (${env.aws.accountId}): the state bucket lives in the environment's own account, and its CI roles may use only that account's keys (docs/stores.md)`,
        },
      });
      if (env.state.kmsKeyArn && /:alias\/aws\//.test(env.state.kmsKeyArn)) {
        issue(
          ["state", "kmsKeyArn"],
          `a customer-managed key, not the AWS managed "${env.state.kmsKeyArn.split(":").pop()}" (its key policy cannot be changed, so nothing but the account's defaults decides who decrypts the state); remove it to use the bootstrap's ${stateKeyAlias(env.project)}`,
        );
      }
    }
    arnRule(["cluster", "oidcProviderArn"], env.cluster.oidcProviderArn, {
      what: "the cluster's IAM OIDC provider",
      service: "iam",
      regional: false,
      account,
      resource: new RegExp(`^oidc-provider/oidc\\.eks\\.${env.aws.region}\\.amazonaws\\.com(\\.cn)?/id/[A-Za-z0-9]+$`),
      example: `oidc-provider/oidc.eks.${env.aws.region}.amazonaws.com/id/<id>`,
    });
    if (env.cluster.oidcProviderArn && !OIDC_PROVIDER_ARN.test(env.cluster.oidcProviderArn)) {
      issue(
        ["cluster", "oidcProviderArn"],
        "the ARN of the cluster's IAM OIDC provider (arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>)",
      );
    }
    if (env.auth.clientSecret.source === "secrets-manager") {
      arnRule(["auth", "clientSecret", "secretArn"], env.auth.clientSecret.secretArn, {
        what: "a Secrets Manager secret",
        service: "secretsmanager",
        resource: /^secret:.+/,
        example: "secret:mlflow/oidc-client-secret-AbCdEf",
        regional: true,
        region: { name: env.aws.region, why: `not the environment's region (${env.aws.region}): the stack reads it there` },
        account,
      });
    }
    arnRule(["ingress", "certificateArn"], env.ingress.certificateArn, {
      what: "an ACM certificate",
      service: "acm",
      resource: /^certificate\/[0-9a-f-]{36}$/,
      example: "certificate/<uuid>",
      regional: true,
      region:
        env.ingress.kind === "alb"
          ? {
              name: env.aws.region,
              why: `not the environment's region (${env.aws.region}): an ALB can only use certificates from its own region`,
            }
          : undefined,
      account: {
        id: env.aws.accountId,
        why: `not aws.accountId (${env.aws.accountId}): a load balancer can only use certificates of its own account`,
      },
    });
    if (env.artifacts.replicationRegion && partitionOf(env.artifacts.replicationRegion) !== partition) {
      issue(
        ["artifacts", "replicationRegion"],
        `a region in the environment's partition (${partition}): S3 does not replicate across partitions`,
      );
    }

    // ── RDS windows ──
    for (const p of rdsWindowProblems(d.backupWindow, d.maintenanceWindow)) issue(["database", p.field], p.expected);

    // ── namespaces: none shared with another the stack creates or the cluster's own ──
    const ns = env.mlflow.namespace;
    if (SYSTEM_NAMESPACE.test(ns))
      issue(
        ["mlflow", "namespace"],
        `a namespace of its own, not "${ns}" (the cluster's own namespaces, and names starting with "kube-", are reserved)`,
      );
    if (env.monitoring.namespace === ns) {
      issue(
        ["mlflow", "namespace"],
        `a namespace other than monitoring.namespace ("${ns}"): the stack creates this one and ${env.monitoring.mode === "install" ? "installs monitoring into the other" : "the existing Prometheus lives in the other"}`,
      );
    }
    if (env.monitoring.mode === "install" && SYSTEM_NAMESPACE.test(env.monitoring.namespace)) {
      issue(
        ["monitoring", "namespace"],
        `a namespace of its own, not "${env.monitoring.namespace}" (the stack creates it in install mode; the cluster's own namespaces and "kube-*" are reserved)`,
      );
    }
    if (env.ingress.gatewayRef?.namespace === ns) {
      issue(
        ["ingress", "gatewayRef", "namespace"],
        `the namespace of an existing Gateway, not mlflow.namespace ("${ns}"), which the stack creates`,
      );
    }

    // ── tags ──
    const tagKeys = Object.keys(env.tags);
    for (const [key, value] of Object.entries(env.tags)) {
      if ((STACK_TAGS as readonly string[]).includes(key)) {
        issue(
          ["tags", key],
          `no "${key}" tag: the stack sets ${STACK_TAGS.join(", ")} on every resource itself (remove it; "${key}" would be "${key === "project" ? env.project : key === "environment" ? env.name : "cdktf"}")`,
        );
        continue;
      }
      const p = tagKeyProblem(key) ?? tagValueProblem(value);
      if (p) issue(["tags", key], p);
    }
    if (tagKeys.length > TAG_LIMITS.perResource - STACK_TAGS.length) {
      issue(
        ["tags"],
        `at most ${TAG_LIMITS.perResource - STACK_TAGS.length} tags (AWS allows ${TAG_LIMITS.perResource} per resource and the stack sets ${STACK_TAGS.length}), not ${tagKeys.length}`,
      );
    }

    // ── names derived from project and name (RDS identifier, IAM roles, the artifact bucket) ──
    const stack = `${env.project}-${env.name}`;
    if (stack.length > 55 || stack.includes("--")) {
      issue(
        ["name"],
        `a shorter name: "${stack}" (project-name) is the RDS instance identifier, which must be at most 55 characters with no "--" (room is left for "-replica")`,
      );
    } else {
      const tooLong = derivedRoleNames(env).filter((r) => r.length > 64);
      if (tooLong.length > 0)
        issue(
          ["name"],
          `a shorter name: the IAM role ${tooLong.map((r) => `"${r}" (${r.length})`).join(", ")} would exceed AWS's 64 characters`,
        );
    }
    const bucketSuffix = env.artifacts.replicationRegion ? "-replica" : env.artifacts.accessLogging ? "-logs" : "";
    if (env.artifacts.bucketName === undefined) {
      const derived = `${stack}-artifacts-${env.aws.accountId}`;
      const p = bucketNameProblem(derived + bucketSuffix);
      if (p)
        issue(
          ["name"],
          `a name that gives a valid artifact bucket name: "${derived + bucketSuffix}" is not ${p}; shorten project or name, or set artifacts.bucketName`,
        );
    } else if (env.artifacts.bucketName.length + bucketSuffix.length > 63) {
      issue(
        ["artifacts", "bucketName"],
        `at most ${63 - bucketSuffix.length} characters: the ${bucketSuffix === "-replica" ? "replica" : "access-log"} bucket is named "<bucketName>${bucketSuffix}" (S3 allows 63)`,
      );
    }

    // ── alerts ──
    const m = env.monitoring;
    const receivers = m.slack !== undefined || m.email !== undefined || m.discord !== undefined;
    if (env.production && m.mode === "install" && !receivers && !m.alertsReachNobody) {
      issue(
        ["monitoring", "slack"],
        "a receiver for a production environment's alerts: set monitoring.slack, monitoring.discord or monitoring.email, or say explicitly that alerts reach nobody with monitoring.alertsReachNobody: true",
      );
    }
    if (m.thresholds.latencyP99Seconds < m.thresholds.latencyP95Seconds) {
      issue(
        ["monitoring", "thresholds", "latencyP99Seconds"],
        `at least latencyP95Seconds (${m.thresholds.latencyP95Seconds}): the p99 is never below the p95`,
      );
    }
    if (m.grafanaHostname && m.mode !== "install") {
      issue(["monitoring", "grafanaHostname"], 'nothing in "existing" mode: the stack installs no Grafana there to expose');
    }
    if (env.ci && env.aws.assumeRoleArn) {
      // The CI roles trust only GitHub's OIDC token: no person (and no provider) can assume one of them.
      const ci = Object.entries(ciRoleArns(env)).find(([, a]) => a === env.aws.assumeRoleArn);
      if (ci)
        issue(
          ["aws", "assumeRoleArn"],
          `the role people deploy with by hand, not the CI ${ci[0]} role (it trusts only GitHub's OIDC token, and the pipelines already run as it: they assume nothing on top, docs/ci-cd.md)`,
        );
    }
    if (env.aws.assumeRoleExternalId && env.cluster.auth === "exec") {
      // `aws eks get-token --role-arn` cannot pass an external id: the kubernetes and helm providers would be denied.
      issue(
        ["cluster", "auth"],
        '"token" when aws.assumeRoleExternalId is set (aws eks get-token has no external-id option; the token data source uses the AWS provider\'s credentials)',
      );
    }
    if (env.identity.mode === "irsa" && !env.cluster.oidcProviderArn) {
      issue(["cluster", "oidcProviderArn"], 'the cluster\'s IAM OIDC provider ARN when identity.mode is "irsa"');
    }
    if (env.artifacts.replicationRegion === env.aws.region) {
      issue(["artifacts", "replicationRegion"], `a region other than the environment's own (${env.aws.region})`);
    }
    if (env.monitoring.email?.authUsername && !env.monitoring.email.authPasswordSecretName) {
      issue(["monitoring", "email", "authPasswordSecretName"], "the Secret holding the SMTP password when authUsername is set");
    }
  });

/** Re-exported from constructs/core/aws-limits.ts, where the coverage rule lives. */
export { certificateCovers } from "../constructs/core/aws-limits";

/** One environment's configuration, validated and with defaults applied. */
export type EnvironmentConfig = z.output<typeof environmentSchema>;
/** What an environment entry may be written as (before defaults). */
export type EnvironmentInput = z.input<typeof environmentSchema>;
