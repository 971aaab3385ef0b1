/**
 * Every class of invalid configuration the outside review found getting through (or refused without
 * naming environment and field), with at least three invalid values each. Each must be refused before
 * anything is synthesized, by a line that names the environment and the field and says what is expected.
 * Own fixtures (./fixtures): independent of the shipped environments.
 */
import { deepMerge, type DeepPartial } from "../../config/merge";
import type { EnvironmentInput } from "../../config/schema";
import { ACCOUNT, fixture, PRODUCTION, refusals } from "./fixtures";

type Entry = DeepPartial<EnvironmentInput>;
/** [what, the environments, environment and field refused, what the message must say] */
type Case = [string, Entry[], string, string, RegExp];

const one = (overrides: Entry, base = fixture()): Entry[] => [deepMerge(base, overrides)];
const two = (alpha: Entry, beta: Entry): Entry[] => [deepMerge(fixture("alpha"), alpha), deepMerge(fixture("beta"), beta)];
const arn = (service: string, region: string, account: string, resource: string) => `arn:aws:${service}:${region}:${account}:${resource}`;
const OTHER_ACCOUNT = "999999999999";

const CLASSES: Record<string, Case[]> = {
  "a state location shared by environments": [
    [
      "the same key without {env} in two environments",
      two({ state: { key: "ml/terraform.tfstate" } }, { state: { key: "ml/terraform.tfstate" } }),
      "beta",
      "state.key",
      /expected a state location no other environment uses: environment "alpha" also keeps its state in s3:\/\/acme-terraform-state\/ml\/terraform\.tfstate.*put \{env\} in it/,
    ],
    [
      "the same key while the first environment has another problem (both are reported in one run)",
      two({ state: { key: "ml/terraform.tfstate" }, aws: { accountId: "1234" } }, { state: { key: "ml/terraform.tfstate" } }),
      "beta",
      "state.key",
      /environment "alpha" also keeps its state in s3:\/\/acme-terraform-state\/ml\/terraform\.tfstate/,
    ],
    [
      "a key naming another environment's resolved key",
      two({ state: { key: "ml/beta.tfstate" } }, { state: { key: "ml/{env}.tfstate" } }),
      "beta",
      "state.key",
      /environment "alpha" also keeps its state in s3:\/\/acme-terraform-state\/ml\/beta\.tfstate/,
    ],
    [
      "a local path without {env} in two environments of one project",
      two(
        { state: { backend: "local", path: "../../../terraform.tfstate" } },
        { state: { backend: "local", path: "../../../terraform.tfstate" } },
      ),
      "beta",
      "state.path",
      /expected a state location no other environment uses: environment "alpha" also keeps its state in terraform\.tfstate/,
    ],
    [
      "a misspelt placeholder (it is never replaced)",
      one({ state: { key: "ml/{ENV}/terraform.tfstate" } }),
      "alpha",
      "state.key",
      /expected an S3 object key whose only placeholder is \{env\} \(the environment's name\), not \{ENV\}/,
    ],
    [
      "a key with a leading '/'",
      one({ state: { key: "/ml/{env}/terraform.tfstate" } }),
      "alpha",
      "state.key",
      /without a leading or trailing '\/'/,
    ],
    // A bucket lives in one account: another account's CI roles and state key cannot read it.
    [
      "one state bucket for environments of two accounts",
      two({}, { aws: { accountId: OTHER_ACCOUNT } }),
      "beta",
      "state.bucket",
      /expected a state bucket of this environment's own account \(999999999999\): environment "alpha" \(account 123456789012\) keeps its state in the same bucket "acme-terraform-state".*e\.g\. "acme-terraform-state-\{account\}"/,
    ],
    [
      "one bucket named by region, not account, for two accounts",
      two({ state: { bucket: "tfstate-{account}-x" } }, { aws: { accountId: OTHER_ACCOUNT }, state: { bucket: "tfstate-123456789012-x" } }),
      "beta",
      "state.bucket",
      /environment "alpha" \(account 123456789012\) keeps its state in the same bucket "tfstate-123456789012-x"/,
    ],
    ["a placeholder a bucket name cannot hold", one({ state: { bucket: "tfstate-{env}" } }), "alpha", "state.bucket", /bucket/],
  ],
  "malformed CIDR blocks": [
    [
      "a prefix beyond /32",
      one({ ingress: { vpcCidrs: ["10.0.0.0/33"] } }),
      "alpha",
      "ingress.vpcCidrs.0",
      /expected an IPv4 VPC CIDR block .*: \/33 is beyond \/32/,
    ],
    [
      "an octet above 255",
      one({ ingress: { vpcCidrs: ["300.1.1.1/8"] } }),
      "alpha",
      "ingress.vpcCidrs.0",
      /: "300\.1\.1\.1" is not an IPv4 address/,
    ],
    [
      "host bits set",
      one({ ingress: { vpcCidrs: ["10.0.0.1/16"] } }),
      "alpha",
      "ingress.vpcCidrs.0",
      /: host bits are set, the network is "10\.0\.0\.0\/16"/,
    ],
    [
      "a leading zero (Kubernetes refuses it)",
      one({ ingress: { vpcCidrs: ["10.20.0.0/16", "010.0.0.0/16"] } }),
      "alpha",
      "ingress.vpcCidrs.1",
      /is not an IPv4 address/,
    ],
    [
      "every address",
      one({ ingress: { vpcCidrs: ["0.0.0.0/0"] } }),
      "alpha",
      "ingress.vpcCidrs.0",
      /: \/0 is every address, not the VPC's/,
    ],
    [
      "an address without a prefix",
      one({ ingress: { vpcCidrs: ["10.0.0.0"] } }),
      "alpha",
      "ingress.vpcCidrs.0",
      /expected an IPv4 VPC CIDR block such as "10\.0\.0\.0\/16"/,
    ],
  ],
  "cron schedules": [
    [
      "minute 61",
      one({ mlflow: { gc: { schedule: "61 * * * *" } } }),
      "alpha",
      "mlflow.gc.schedule",
      /expected a five-field cron schedule .*: minute 61 is outside 0-59/,
    ],
    ["three fields", one({ mlflow: { gc: { schedule: "* * *" } } }), "alpha", "mlflow.gc.schedule", /\(this one has 3 fields\)/],
    ["hour 24", one({ mlflow: { gc: { schedule: "0 24 * * *" } } }), "alpha", "mlflow.gc.schedule", /hour 24 is outside 0-23/],
    ["a step of 0", one({ mlflow: { gc: { schedule: "*/0 * * * *" } } }), "alpha", "mlflow.gc.schedule", /minute "\*\/0" has a step of 0/],
    ["day of week 8", one({ mlflow: { gc: { schedule: "0 3 * * 8" } } }), "alpha", "mlflow.gc.schedule", /day of week 8 is outside 0-6/],
    [
      "a backwards range",
      one({ mlflow: { gc: { schedule: "0 5-1 * * *" } } }),
      "alpha",
      "mlflow.gc.schedule",
      /hour range "5-1" starts after it ends/,
    ],
    [
      "@every (Kubernetes has no such schedule)",
      one({ mlflow: { gc: { schedule: "@every 1h" } } }),
      "alpha",
      "mlflow.gc.schedule",
      /or one of @yearly/,
    ],
    [
      "a time zone prefix",
      one({ mlflow: { gc: { schedule: "TZ=Europe/Paris 0 3 * * *" } } }),
      "alpha",
      "mlflow.gc.schedule",
      /without a time zone \(schedules run in UTC\)/,
    ],
  ],
  "time windows": [
    [
      "hours beyond 23",
      one({ database: { backupWindow: "25:00-26:00" } }),
      "alpha",
      "database.backupWindow",
      /expected a daily UTC window hh:mm-hh:mm .*\(hours 00-23, minutes 00-59\)/,
    ],
    [
      "a maintenance window overlapping the backup window",
      one({ database: { backupWindow: "02:00-03:00", maintenanceWindow: "sun:02:30-sun:03:30" } }),
      "alpha",
      "database.maintenanceWindow",
      /expected a window that does not overlap the daily backup window 02:00-03:00 \(RDS refuses overlapping windows\)/,
    ],
    [
      "a backup window shorter than RDS's 30 minutes",
      one({ database: { backupWindow: "02:00-02:15" } }),
      "alpha",
      "database.backupWindow",
      /at least 30 minutes long \(this one lasts 15 minutes\)/,
    ],
    [
      "a maintenance window shorter than RDS's 30 minutes",
      one({ database: { maintenanceWindow: "sun:04:00-sun:04:10" } }),
      "alpha",
      "database.maintenanceWindow",
      /this one lasts 10 minutes/,
    ],
    [
      "an unknown day",
      one({ database: { maintenanceWindow: "sonntag:04:00-sun:05:00" } }),
      "alpha",
      "database.maintenanceWindow",
      /expected a weekly UTC window ddd:hh:mm-ddd:hh:mm/,
    ],
    ["minutes beyond 59", one({ database: { backupWindow: "02:60-03:30" } }), "alpha", "database.backupWindow", /minutes 00-59/],
  ],
  "ARNs of the wrong service or account": [
    [
      "an IAM role as certificate",
      one({ ingress: { certificateArn: `arn:aws:iam::${ACCOUNT}:role/mlflow` } }),
      "alpha",
      "ingress.certificateArn",
      /expected the ARN of an ACM certificate, such as "arn:aws:acm:eu-central-1:123456789012:certificate\/<uuid>": this ARN names a resource of another service \(iam\)/,
    ],
    [
      "a certificate of another account",
      one({ ingress: { certificateArn: arn("acm", "eu-central-1", OTHER_ACCOUNT, "certificate/11111111-2222-3333-4444-555555555555") } }),
      "alpha",
      "ingress.certificateArn",
      /it belongs to account 999999999999, not aws\.accountId \(123456789012\): a load balancer can only use certificates of its own account/,
    ],
    [
      "a secret in another region",
      one({
        auth: { clientSecret: { source: "secrets-manager", secretArn: arn("secretsmanager", "us-east-1", ACCOUNT, "secret:oidc-AbCdEf") } },
      }),
      "alpha",
      "auth.clientSecret.secretArn",
      /it is in us-east-1, not the environment's region \(eu-central-1\): the stack reads it there/,
    ],
    [
      "a secret of another account",
      one({
        auth: {
          clientSecret: {
            source: "secrets-manager",
            secretArn: arn("secretsmanager", "eu-central-1", OTHER_ACCOUNT, "secret:oidc-AbCdEf"),
          },
        },
      }),
      "alpha",
      "auth.clientSecret.secretArn",
      /belongs to account 999999999999/,
    ],
    [
      "a KMS key as secret",
      one({
        auth: {
          clientSecret: {
            source: "secrets-manager",
            secretArn: arn("kms", "eu-central-1", ACCOUNT, "key/11111111-2222-3333-4444-555555555555"),
          },
        },
      }),
      "alpha",
      "auth.clientSecret.secretArn",
      /a resource of another service \(kms\)/,
    ],
    [
      "an IAM user as the role to assume",
      one({ aws: { assumeRoleArn: `arn:aws:iam::${ACCOUNT}:user/deployer` } }),
      "alpha",
      "aws.assumeRoleArn",
      /expected the ARN of an IAM role, .*: this ARN names another kind of resource/,
    ],
    [
      "a role to assume in another account",
      one({ aws: { assumeRoleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/deployer` } }),
      "alpha",
      "aws.assumeRoleArn",
      /Terraform assumes it and then works only in that account/,
    ],
    [
      "a CI role as the role people deploy with",
      one({ aws: { assumeRoleArn: `arn:aws:iam::${ACCOUNT}:role/acme-alpha-ci-deploy` }, ci: { repository: "acme/ml" } }),
      "alpha",
      "aws.assumeRoleArn",
      /expected the role people deploy with by hand, not the CI deploy role \(it trusts only GitHub's OIDC token/,
    ],
    [
      "a bucket as the state's KMS key",
      one({ state: { kmsKeyArn: "arn:aws:s3:::acme-keys" } }),
      "alpha",
      "state.kmsKeyArn",
      /the ARN of a KMS key/,
    ],
    [
      "a state KMS key in another region than the bucket",
      one({ state: { kmsKeyArn: arn("kms", "us-east-1", OTHER_ACCOUNT, "key/11111111-2222-3333-4444-555555555555") } }),
      "alpha",
      "state.kmsKeyArn",
      /not the state bucket's region \(eu-central-1\): S3 encrypts only with keys of its own region/,
    ],
    [
      "a state KMS key of another account",
      one({ state: { kmsKeyArn: arn("kms", "eu-central-1", OTHER_ACCOUNT, "key/11111111-2222-3333-4444-555555555555") } }),
      "alpha",
      "state.kmsKeyArn",
      /belongs to account 999999999999, not aws\.accountId \(123456789012\): the state bucket lives in the environment's own account/,
    ],
    [
      "the AWS managed S3 key for the state",
      one({ state: { kmsKeyArn: arn("kms", "eu-central-1", ACCOUNT, "alias/aws/s3") } }),
      "alpha",
      "state.kmsKeyArn",
      /a customer-managed key, not the AWS managed "alias\/aws\/s3"/,
    ],
    // A role for the state was a setting once; the state now stays in the environment's own account.
    [
      "a role for the state",
      one({ state: { roleArn: `arn:aws:iam::${ACCOUNT}:role/state` } } as Entry),
      "alpha",
      "state.roleArn",
      /unknown key \(no longer a setting, remove it\): the state bucket lives in the environment's own account/,
    ],
    [
      "an OIDC provider of another account",
      one({ cluster: { oidcProviderArn: `arn:aws:iam::${OTHER_ACCOUNT}:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/ABC123` } }),
      "alpha",
      "cluster.oidcProviderArn",
      /belongs to account 999999999999/,
    ],
    [
      "an ARN of the wrong partition",
      one({ ingress: { certificateArn: `arn:aws-cn:acm:eu-central-1:${ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555` } }),
      "alpha",
      "ingress.certificateArn",
      /the partition must be "aws"/,
    ],
  ],
  "zero-sized resources": [
    [
      "zero CPU",
      one({ mlflow: { resources: { requests: { cpu: "0" } } } }),
      "alpha",
      "mlflow.resources.requests.cpu",
      /expected a Kubernetes CPU quantity of at least 1m, such as "250m" or "1": zero CPU is no CPU/,
    ],
    [
      "zero memory",
      one({ mlflow: { resources: { requests: { memory: "0Gi" } } } }),
      "alpha",
      "mlflow.resources.requests.memory",
      /zero memory is no memory/,
    ],
    [
      "a zero memory limit",
      one({ auth: { resources: { limits: { memory: "0" } } } }),
      "alpha",
      "auth.resources.limits.memory",
      /zero memory is no memory/,
    ],
    ["zero millicores", one({ auth: { resources: { requests: { cpu: "0m" } } } }), "alpha", "auth.resources.requests.cpu", /zero CPU/],
    [
      "less than a millicore",
      one({ mlflow: { resources: { requests: { cpu: "0.0001" } } } }),
      "alpha",
      "mlflow.resources.requests.cpu",
      /whole millicores/,
    ],
    [
      "less memory than a container starts in",
      one({ auth: { resources: { requests: { memory: "512Ki" } } } }),
      "alpha",
      "auth.resources.requests.memory",
      /a container cannot start in 512Ki/,
    ],
  ],
  "namespaces that collide": [
    [
      "the monitoring namespace",
      one({ mlflow: { namespace: "observability" }, monitoring: { namespace: "observability" } }),
      "alpha",
      "mlflow.namespace",
      /expected a namespace other than monitoring\.namespace \("observability"\): the stack creates this one and installs monitoring into the other/,
    ],
    [
      "kube-system",
      one({ mlflow: { namespace: "kube-system" } }),
      "alpha",
      "mlflow.namespace",
      /expected a namespace of its own, not "kube-system"/,
    ],
    ["default", one({ mlflow: { namespace: "default" } }), "alpha", "mlflow.namespace", /not "default"/],
    [
      "a kube- namespace for installed monitoring",
      one({ monitoring: { namespace: "kube-public" } }),
      "alpha",
      "monitoring.namespace",
      /not "kube-public" \(the stack creates it in install mode/,
    ],
    [
      "the Gateway in the namespace the stack creates",
      one({ ingress: { kind: "gateway-api", gatewayRef: { namespace: "mlflow", name: "public" } } }),
      "alpha",
      "ingress.gatewayRef.namespace",
      /the namespace of an existing Gateway, not mlflow\.namespace \("mlflow"\), which the stack creates/,
    ],
  ],
  "reserved or over-long tags": [
    ["the aws: prefix", one({ tags: { "aws:owner": "ml" } }), "alpha", "tags.aws:owner", /expected a tag key not starting with "aws:"/],
    [
      "a key of 129 characters",
      one({ tags: { ["k".repeat(129)]: "v" } }),
      "alpha",
      `tags.${"k".repeat(129)}`,
      /expected a tag key of 1-128 characters \(this one has 129\)/,
    ],
    [
      "a value of 257 characters",
      one({ tags: { team: "v".repeat(257) } }),
      "alpha",
      "tags.team",
      /expected a tag value of at most 256 characters \(this one has 257\)/,
    ],
    [
      "project (the stack sets it)",
      one({ tags: { project: "other" } }),
      "alpha",
      "tags.project",
      /expected no "project" tag: the stack sets project, environment, managed-by on every resource itself/,
    ],
    [
      "environment (the stack sets it)",
      one({ tags: { environment: "prod" } }),
      "alpha",
      "tags.environment",
      /"environment" would be "alpha"/,
    ],
    [
      "managed-by (the stack sets it)",
      one({ tags: { "managed-by": "hand" } }),
      "alpha",
      "tags.managed-by",
      /"managed-by" would be "cdktf"/,
    ],
    [
      "a character AWS refuses",
      one({ tags: { "cost#center": "ml" } }),
      "alpha",
      "tags.cost#center",
      /letters, digits, spaces and _ \. : \/ = \+ - @ only/,
    ],
    [
      "more tags than a resource can carry",
      one({ tags: Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`t${i}`, "x"])) }),
      "alpha",
      "tags",
      /at most 47 tags \(AWS allows 50 per resource and the stack sets 3\), not 48/,
    ],
  ],
  "bucket names AWS refuses": [
    [
      "the xn-- prefix",
      one({ artifacts: { bucketName: "xn--acme-artifacts" } }),
      "alpha",
      "artifacts.bucketName",
      /expected an S3 bucket name: .*, not starting with "xn--" \(reserved by AWS\)/,
    ],
    [
      "the -s3alias suffix",
      one({ artifacts: { bucketName: "acme-artifacts-s3alias" } }),
      "alpha",
      "artifacts.bucketName",
      /not ending with "-s3alias"/,
    ],
    [
      "an IP address",
      one({ artifacts: { bucketName: "192.168.10.10" } }),
      "alpha",
      "artifacts.bucketName",
      /not formatted as an IP address/,
    ],
    [
      "two adjacent periods",
      one({ artifacts: { bucketName: "acme..artifacts" } }),
      "alpha",
      "artifacts.bucketName",
      /with no two adjacent periods/,
    ],
    [
      "a state bucket with a reserved prefix",
      one({ state: { bucket: "sthree-state" } }),
      "alpha",
      "state.bucket",
      /not starting with "sthree-"/,
    ],
    ["a state bucket in upper case", one({ state: { bucket: "Acme-State" } }), "alpha", "state.bucket", /lower-case letters/],
    ["a state bucket too short", one({ state: { bucket: "ab" } }), "alpha", "state.bucket", /\(this one has 2 characters\)/],
    [
      "a name too long for its replica bucket",
      one({ artifacts: { bucketName: "a".repeat(60), replicationRegion: "eu-west-1" } }),
      "alpha",
      "artifacts.bucketName",
      /at most 55 characters: the replica bucket is named "<bucketName>-replica"/,
    ],
  ],
  "names derived from project and name": [
    [
      "an IAM role name beyond 64 characters",
      one({ name: "a-rather-long-environment-name-x", ingress: { installLoadBalancerController: true } }),
      "a-rather-long-environment-name-x",
      "name",
      /expected a shorter name: the IAM role "acme-a-rather-long-environment-name-x-aws-load-balancer-controller" \(66\) would exceed AWS's 64 characters/,
    ],
    [
      "an RDS identifier beyond 55 characters",
      one({ name: "n".repeat(51) }),
      "n".repeat(51),
      "name",
      /is the RDS instance identifier, which must be at most 55 characters/,
    ],
    ["two hyphens in a row (RDS refuses them)", one({ name: "al--pha" }), "al--pha", "name", /with no "--"/],
    [
      "a derived bucket name with a reserved prefix",
      one({ project: "sthree" }),
      "alpha",
      "name",
      /expected a name that gives a valid artifact bucket name: "sthree-alpha-artifacts-123456789012" is not an S3 bucket name: .*, not starting with "sthree-" \(reserved by AWS\); shorten project or name, or set artifacts\.bucketName/,
    ],
  ],
  regions: [
    ["no number", one({ aws: { region: "eu-west" } }), "alpha", "aws.region", /expected an AWS region such as "eu-west-1"/],
    ["upper case", one({ aws: { region: "EU-WEST-1" } }), "alpha", "aws.region", /lower-case <area>-<direction>-<number>/],
    [
      "an availability zone",
      one({ aws: { region: "eu-west-1a" } }),
      "alpha",
      "aws.region",
      /not an availability zone \("eu-west-1a" is a zone of eu-west-1\)/,
    ],
  ],
  "database versions": [
    [
      "an exact minor",
      one({ database: { engineVersion: "17.6" } }),
      "alpha",
      "database.engineVersion",
      /expected a PostgreSQL major version such as "17" \(no minor: RDS applies minor upgrades automatically/,
    ],
    [
      "a major out of support",
      one({ database: { engineVersion: "12" } }),
      "alpha",
      "database.engineVersion",
      /expected PostgreSQL 13 or later/,
    ],
    ["a word", one({ database: { engineVersion: "latest" } }), "alpha", "database.engineVersion", /a PostgreSQL major version/],
  ],
  "unknown keys": [
    [
      "a typo in a section",
      one({ mlflow: { wrokers: 2 } as Entry["mlflow"] }),
      "alpha",
      "mlflow.wrokers",
      /^environment "alpha": field mlflow\.wrokers: unknown key \(did you mean "workers"\?\)$/,
    ],
    ["a typo at the top", one({ databse: {} } as Entry), "alpha", "databse", /unknown key \(did you mean "database"\?\)$/],
    [
      "a typo in a variant",
      one({ auth: { clientSecret: { source: "secrets-manager", secretArm: "x" } } } as Entry),
      "alpha",
      "auth.clientSecret.secretArm",
      /unknown key \(did you mean "secretArn"\?\)$/,
    ],
    [
      "a key nothing resembles",
      one({ monitoring: { pagerduty: {} } } as Entry),
      "alpha",
      "monitoring.pagerduty",
      /unknown key \(remove it; the keys here are mode, namespace, /,
    ],
  ],
  "wrong types": [
    [
      "a string for a boolean",
      one({ database: { multiAz: "yes" } } as unknown as Entry),
      "alpha",
      "database.multiAz",
      /= "yes": expected true or false, not a string$/,
    ],
    [
      "a string for a number",
      one({ mlflow: { workers: "2" } } as unknown as Entry),
      "alpha",
      "mlflow.workers",
      /expected workers: a whole number from 1 to 64/,
    ],
    [
      "a missing required field",
      one(
        { cluster: { name: undefined } },
        (() => {
          const f = fixture();
          delete (f.cluster as Record<string, unknown>).name;
          return f;
        })(),
      ),
      "alpha",
      "cluster.name",
      /= nothing: expected a string in quotes \(the field is required\)$/,
    ],
  ],
  "a production environment whose alerts reach nobody": [
    [
      "no receiver",
      one({ ...PRODUCTION, monitoring: { alertsReachNobody: false } }),
      "alpha",
      "monitoring.slack",
      /expected a receiver for a production environment's alerts: set monitoring\.slack, monitoring\.discord or monitoring\.email, or say explicitly that alerts reach nobody with monitoring\.alertsReachNobody: true/,
    ],
    [
      "the opt-out left unset",
      one(
        { ...PRODUCTION, monitoring: { alertsReachNobody: undefined } },
        (() => {
          const f = fixture();
          delete (f.monitoring as Record<string, unknown>).alertsReachNobody;
          return f;
        })(),
      ),
      "alpha",
      "monitoring.slack",
      /expected a receiver for a production environment's alerts/,
    ],
    [
      "an opt-out that is not a real boolean",
      one({ ...PRODUCTION, monitoring: { alertsReachNobody: "true" } } as unknown as Entry),
      "alpha",
      "monitoring.alertsReachNobody",
      /= "true": expected true or false, not a string$/,
    ],
  ],
  "values only a construct used to refuse": [
    [
      "a TLS policy allowing TLS 1.0",
      one({ ingress: { sslPolicy: "ELBSecurityPolicy-2016-08" } }),
      "alpha",
      "ingress.sslPolicy",
      /expected an ALB TLS policy that allows only TLS 1\.2 and 1\.3/,
    ],
    [
      "a p99 threshold below the p95",
      one({ monitoring: { thresholds: { latencyP95Seconds: 3, latencyP99Seconds: 2 } } }),
      "alpha",
      "monitoring.thresholds.latencyP99Seconds",
      /expected at least latencyP95Seconds \(3\)/,
    ],
    [
      "a Grafana hostname with an existing Prometheus",
      one({
        monitoring: {
          mode: "existing",
          grafanaHostname: "grafana.acme.example",
          grafanaOidc: {
            authUrl: "https://id.acme.example/a",
            tokenUrl: "https://id.acme.example/t",
            userInfoUrl: "https://id.acme.example/u",
          },
        },
      }),
      "alpha",
      "monitoring.grafanaHostname",
      /expected nothing in "existing" mode: the stack installs no Grafana there/,
    ],
  ],
};

describe("the fixtures are valid (so each case below fails for its one invalid value)", () => {
  it("accepts the fixture, two of them, and a production one", () => {
    expect(() => refusals(fixture("alpha"), fixture("beta"), deepMerge(fixture("gamma"), PRODUCTION))).toThrow(
      "configuration was accepted",
    );
  });
});

describe.each(Object.entries(CLASSES))("refuses %s", (_class, cases) => {
  it("has at least three invalid values", () => expect(cases.length).toBeGreaterThanOrEqual(3));

  it.each(cases)("%s", (_what, entries, env, field, message) => {
    const problems = refusals(...entries);
    // Every line names an environment and a field; the expected one is among them, saying what to do.
    for (const p of problems) expect(p).toMatch(/^environment "[^"]+": field \S+( = .+: expected .+|: unknown key .+)$/s);
    // zod's own wording never leaks through ("expected expected boolean", "Invalid input", "(root)").
    for (const p of problems)
      expect(p).not.toMatch(/expected expected|Invalid input|Invalid option|Too (small|big)|Unrecognized key|\(root\)/);
    const line = problems.find(
      (p) => p.startsWith(`environment "${env}": field ${field}:`) || p.startsWith(`environment "${env}": field ${field} = `),
    );
    expect({ line, problems }).toMatchObject({ line: expect.stringMatching(message) });
  });
});
