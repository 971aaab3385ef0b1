/**
 * Synth-time policy checks. `applyPolicies(stack)` adds them to a stack as one cdktf Aspect that reads
 * the stack's resolved JSON once and runs every rule over it; each violation becomes an error
 * annotation on the offending resource, which aborts `cdktf synth`.
 *
 * | id | rule |
 * |---|---|
 * | MLF-S3-1 | every bucket has default encryption (SSE-KMS or SSE-S3) |
 * | MLF-S3-2 | every bucket is private (4 public-access blocks, ACLs disabled, no public grant) |
 * | MLF-S3-3 | every bucket policy denies non-TLS requests |
 * | MLF-RDS-1 | every database is encrypted with a customer-managed KMS key |
 * | MLF-RDS-2 | no database is publicly accessible; each sits in a DB subnet group |
 * | MLF-SG-1 | no security group opens 5432 to 0.0.0.0/0 or ::/0 |
 * | MLF-IAM-1 | no IAM policy grants S3 with a wildcard action (`s3:*`, `s3:Get*`, `*`), a wildcard bucket (`*`, `arn:aws:s3:::foo*`), NotAction or NotResource |
 * | MLF-IAM-2 | every IAM role carries the stack's permissions boundary, but the roles only an administrator applies (tagged mlflow-platform/administered-by: bootstrap) |
 * | MLF-SEC-1 | no secret literal anywhere in cdk.tf.json (a reference is safe only when it is the whole value) |
 * | MLF-GCS-1 | every Cloud Storage bucket is encrypted with a customer-managed Cloud KMS key |
 * | MLF-GCS-2 | every Cloud Storage bucket is private (public access prevention enforced, uniform bucket-level access) |
 * | MLF-SQL-1 | every Cloud SQL instance is encrypted with a customer-managed Cloud KMS key |
 * | MLF-SQL-2 | no Cloud SQL instance has a public IP; each has a private IP in the VPC, no authorized network |
 * | MLF-SQL-3 | every Cloud SQL instance refuses unencrypted connections (ssl_mode) |
 * | MLF-AR-1 | every Artifact Registry repository is encrypted with a customer-managed Cloud KMS key |
 * | MLF-GCP-1 | no IAM grant on a Google resource names allUsers or allAuthenticatedUsers |
 * | MLF-GCP-2 | no IAM grant on a Google resource names a basic role (roles/owner, roles/editor, roles/viewer) |
 * | MLF-AZ-BLOB-1 | every Azure storage account is encrypted with a customer-managed Key Vault key |
 * | MLF-AZ-BLOB-2 | every Azure storage account is private (no public containers, no shared key, firewall default Deny), its containers private |
 * | MLF-AZ-BLOB-3 | every Azure storage account takes HTTPS only, TLS 1.2 or later |
 * | MLF-AZ-PG-1 | every PostgreSQL flexible server has private access only (delegated subnet, private DNS zone, no public access, no firewall rule) |
 * | MLF-AZ-PG-2 | every PostgreSQL flexible server requires TLS (require_secure_transport on, TLS 1.2 or later) |
 * | MLF-AZ-PG-3 | every PostgreSQL flexible server (and its geo backups) is encrypted with a customer-managed Key Vault key |
 * | MLF-AZ-ACR-1 | every Azure Container Registry has no admin user and no anonymous pull, and is Premium with a customer-managed key |
 * | MLF-AZ-KV-1 | every Key Vault has purge protection and Azure RBAC authorization, no access policy |
 * | MLF-AZ-1 | no Azure role assignment at management-group, subscription or resource-group scope grants Owner, Contributor, User Access Administrator or Role Based Access Control Administrator |
 *
 * Each cloud's rules find nothing to check in another cloud's stack.
 */
import { Aspects, TerraformStack, type IAspect } from "cdktf";
import type { IConstruct } from "constructs";
import { BucketEncrypted } from "./bucket-encrypted";
import { BucketPrivate } from "./bucket-private";
import { BucketTlsOnly } from "./bucket-tls-only";
import { DatabaseEncrypted } from "./database-encrypted";
import { DatabasePrivate } from "./database-private";
import { PostgresNotOpen } from "./postgres-not-open";
import { NoS3Wildcards } from "./no-s3-wildcards";
import { NoSecretLiterals } from "./no-secret-literals";
import { RolesBounded } from "./roles-bounded";
import { GcsBucketCmek } from "./gcs-bucket-cmek";
import { GcsBucketPrivate } from "./gcs-bucket-private";
import { CloudSqlCmek } from "./cloud-sql-cmek";
import { CloudSqlPrivate } from "./cloud-sql-private";
import { CloudSqlTlsOnly } from "./cloud-sql-tls-only";
import { ArtifactRegistryCmek } from "./artifact-registry-cmek";
import { GcpNoPublicMembers } from "./gcp-no-public-members";
import { GcpNoPrimitiveRoles } from "./gcp-no-primitive-roles";
import { AzureBlobCmk } from "./azure-blob-cmk";
import { AzureBlobPrivate } from "./azure-blob-private";
import { AzureBlobTls } from "./azure-blob-tls";
import { AzureNoBroadRoles } from "./azure-no-broad-roles";
import { AzurePostgresPrivate } from "./azure-postgres-private";
import { AzurePostgresTls } from "./azure-postgres-tls";
import { AzurePostgresCmk } from "./azure-postgres-cmk";
import { AzureAcr } from "./azure-acr";
import { AzureKeyVault } from "./azure-key-vault";
import type { PolicyRule, TfJson } from "./rule";

export { PolicyRule, type Finding, type TfJson } from "./rule";
export {
  BucketEncrypted,
  BucketPrivate,
  BucketTlsOnly,
  DatabaseEncrypted,
  DatabasePrivate,
  PostgresNotOpen,
  NoS3Wildcards,
  RolesBounded,
  NoSecretLiterals,
  GcsBucketCmek,
  GcsBucketPrivate,
  CloudSqlCmek,
  CloudSqlPrivate,
  CloudSqlTlsOnly,
  ArtifactRegistryCmek,
  GcpNoPublicMembers,
  GcpNoPrimitiveRoles,
  AzureBlobCmk,
  AzureBlobPrivate,
  AzureBlobTls,
  AzureNoBroadRoles,
  AzurePostgresPrivate,
  AzurePostgresTls,
  AzurePostgresCmk,
  AzureAcr,
  AzureKeyVault,
};

/** Every rule, in the order findings are reported. */
export function allRules(): PolicyRule[] {
  return [
    new BucketEncrypted(),
    new BucketPrivate(),
    new BucketTlsOnly(),
    new DatabaseEncrypted(),
    new DatabasePrivate(),
    new PostgresNotOpen(),
    new NoS3Wildcards(),
    new RolesBounded(),
    new NoSecretLiterals(),
    new GcsBucketCmek(),
    new GcsBucketPrivate(),
    new CloudSqlCmek(),
    new CloudSqlPrivate(),
    new CloudSqlTlsOnly(),
    new ArtifactRegistryCmek(),
    new GcpNoPublicMembers(),
    new GcpNoPrimitiveRoles(),
    new AzureBlobCmk(),
    new AzureBlobPrivate(),
    new AzureBlobTls(),
    new AzurePostgresPrivate(),
    new AzurePostgresTls(),
    new AzurePostgresCmk(),
    new AzureAcr(),
    new AzureKeyVault(),
    new AzureNoBroadRoles(),
  ];
}

/** The JSON a policy pack resolved and checked, with the stack's construct count at that moment. */
const checked = new WeakMap<TerraformStack, { json: TfJson; constructs: number }>();

/** Runs several rules over one stack, resolving its JSON once. */
export class PolicyPack implements IAspect {
  constructor(readonly rules: PolicyRule[] = allRules()) {}

  visit(node: IConstruct): void {
    if (!(node instanceof TerraformStack)) return;
    const json = node.toTerraform() as TfJson;
    checked.set(node, { json, constructs: node.node.findAll().length });
    for (const rule of this.rules) rule.report(node, json);
  }
}

/**
 * The JSON the policy pack resolved and checked for `stack` in this synthesis, handed out once: a stack
 * that returns it from `toTerraform()` is resolved once per synthesis instead of twice (resolution is
 * most of a synthesis: a fifth of `npm run synth`), and what is written is exactly what was checked.
 * Undefined when the pack has not run since the last call, or when constructs were added after it ran
 * (then the stack must resolve itself again).
 */
export function takePolicyCheckedJson(stack: TerraformStack): TfJson | undefined {
  const entry = checked.get(stack);
  checked.delete(stack);
  if (!entry || entry.constructs !== stack.node.findAll().length) return undefined;
  return entry.json;
}

/** Adds every policy rule to `stack` (once). */
export function applyPolicies(stack: TerraformStack, rules: PolicyRule[] = allRules()): void {
  Aspects.of(stack).add(new PolicyPack(rules));
}
