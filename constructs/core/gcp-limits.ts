/**
 * Google Cloud's own rules for values a user writes (project ids, regions and zones, Cloud Storage bucket
 * names, Cloud SQL instance ids, labels, network and cluster names), as pure functions, like
 * constructs/core/aws-limits.ts for AWS. Each returns `undefined` for a valid value, or the end of the
 * sentence "expected ..." that says what a valid value looks like. The configuration schema (config/gcp.ts)
 * and the GCP constructs call the same functions, so each limit is written down once, beside its source.
 * No resources, no provider imports.
 */
import { AWS_REGION_PATTERN } from "./aws-limits";

/** Where each rule below comes from (Google's documentation), cited in the rule's table. */
export const GCP_RULE_SOURCES = {
  projectId: "https://cloud.google.com/resource-manager/reference/rest/v3/projects",
  projectIdCli: "https://cloud.google.com/sdk/gcloud/reference/projects/create",
  bucketName: "https://cloud.google.com/storage/docs/buckets#naming",
  sqlInstanceId:
    "https://cloud.google.com/python/docs/reference/google-cloud-sql/latest/google.cloud.sqladmin_v1.types.SqlInstancesReleaseSsrsLeaseRequest",
  sqlSslMode: "https://cloud.google.com/python/docs/reference/google-cloud-sql/latest/google.cloud.sqladmin_v1beta4.types.IpConfiguration",
  regions: "https://cloud.google.com/compute/docs/regions-zones",
  labels: "https://cloud.google.com/resource-manager/docs/labels-overview#requirements",
  resourceNames: "https://cloud.google.com/compute/docs/naming-resources#resource-name-format",
  workloadIdentityPoolId: "https://cloud.google.com/iam/docs/reference/rest/v1/projects.locations.workloadIdentityPools/create",
  workloadIdentityProviderId:
    "https://cloud.google.com/iam/docs/reference/rest/v1/projects.locations.workloadIdentityPools.providers/create",
  /** projects.secrets.create, `secretId`; projects.secrets.versions.access, `name` (a version number or "latest"). */
  secretId: "https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create",
  secretVersion: "https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access",
} as const;

// ── project ids ──────────────────────────────────────────────────────────────────

/**
 * | rule | source |
 * |---|---|
 * | 6-30 characters | projects.create (projectIdCli), Project.projectId (projectId) |
 * | lower-case ASCII letters, digits and hyphens, starting with a letter | same |
 * | no trailing hyphen | Project.projectId |
 */
export function gcpProjectIdProblem(id: string): string | undefined {
  const rule =
    'a Google Cloud project id such as "acme-ml-prod": 6-30 lower-case letters, digits and hyphens, starting with a letter, not ending with a hyphen';
  if (/^\d+$/.test(id)) return `${rule} (this is a project number: use the project's id)`;
  if (id.length < 6 || id.length > 30) return `${rule} (this one has ${id.length} characters)`;
  if (!/^[a-z][a-z0-9-]*[a-z0-9]$/.test(id)) return rule;
  return undefined;
}

// ── regions and zones ────────────────────────────────────────────────────────────

/**
 * The shape of a Google Cloud region name, `<area>-<direction><n>` (`europe-west1`, `us-central1`,
 * `northamerica-northeast2`, `me-central2`): regions-zones (regions). Like the AWS rule, any name of that shape is
 * accepted, so a region Google opens later needs no code change.
 */
export const GCP_REGION_PATTERN = /^[a-z]+-[a-z]+\d{1,2}$/;
/** A zone is its region's name, a hyphen and a letter (`europe-west1-b`). */
export const GCP_ZONE_PATTERN = /^([a-z]+-[a-z]+\d{1,2})-[a-z]$/;

/** Problem with a region name, or undefined; an AWS region name (the usual mistake) is named as such. */
export function gcpRegionProblem(region: string): string | undefined {
  if (GCP_REGION_PATTERN.test(region)) return undefined;
  if (AWS_REGION_PATTERN.test(region))
    return `a Google Cloud region such as "europe-west1", not an AWS region ("${region}" is AWS's naming: <area>-<direction>-<number>)`;
  const zone = GCP_ZONE_PATTERN.exec(region);
  if (zone) return `a Google Cloud region such as "europe-west1", not a zone ("${region}" is a zone of ${zone[1]})`;
  return 'a Google Cloud region such as "europe-west1" or "us-central1" (lower-case <area>-<direction><number>)';
}

/** Problem with a zone of `region`, or undefined. */
export function gcpZoneProblem(zone: string, region?: string): string | undefined {
  const m = GCP_ZONE_PATTERN.exec(zone);
  if (!m) return `a Google Cloud zone such as "${region ?? "europe-west1"}-b" (a region name, a hyphen and a letter)`;
  if (region !== undefined && m[1] !== region) return `a zone of gcp.region (${region}), such as "${region}-b", not one of ${m[1]}`;
  return undefined;
}

// ── Cloud Storage bucket names ──────────────────────────────────────────────────

/**
 * | rule | source (bucketName) |
 * |---|---|
 * | lower-case letters, digits, '-', '_' and '.' only | naming requirements |
 * | starts and ends with a letter or digit | same |
 * | 3-63 characters; a name with dots up to 222, each dot-separated part at most 63 | same |
 * | not an IP address in dotted-decimal notation | same |
 * | not starting with "goog" | same |
 * | not containing "google" or a close misspelling such as "g00gle" | same |
 */
export function gcsBucketNameProblem(name: string): string | undefined {
  const rule = "a Cloud Storage bucket name: 3-63 lower-case letters, digits, '-', '_' and '.', starting and ending with a letter or digit";
  const max = name.includes(".") ? 222 : 63;
  if (name.length < 3 || name.length > max) return `${rule} (this one has ${name.length} characters)`;
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name)) return rule;
  if (name.split(".").some((part) => part.length > 63)) return `${rule}, each part between dots at most 63 characters`;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return `${rule}, not formatted as an IP address`;
  if (name.startsWith("goog")) return `${rule}, not starting with "goog" (Cloud Storage refuses it)`;
  if (/g[o0][o0]g[l1]e/.test(name)) return `${rule}, without "google" or a look-alike such as "g00gle" in it (Cloud Storage refuses it)`;
  return undefined;
}

// ── Cloud SQL instance ids ───────────────────────────────────────────────────────

/**
 * | rule | source (sqlInstanceId) |
 * |---|---|
 * | lower-case letters, digits and hyphens, starting with a letter | SqlInstancesReleaseSsrsLeaseRequest.instance |
 * | at most 98 characters | same |
 */
export function sqlInstanceIdProblem(id: string): string | undefined {
  const rule = "a Cloud SQL instance id: lower-case letters, digits and hyphens, starting with a letter, at most 98 characters";
  if (id.length < 1 || id.length > 98) return `${rule} (this one has ${id.length} characters)`;
  if (!/^[a-z][a-z0-9-]*$/.test(id)) return rule;
  return undefined;
}

/** Cloud SQL's `ssl_mode` values that refuse unencrypted connections (sqlSslMode), weakest first. */
export const CLOUD_SQL_ENCRYPTED_SSL_MODES = ["ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"] as const;

// ── resource names (networks, subnetworks, service accounts, key rings) ──────────

/**
 * A Compute Engine resource name (VPC networks and subnetworks), resourceNames: 1-63 characters, a lower-case letter
 * first, then lower-case letters, digits and hyphens, not ending with a hyphen (RFC 1035).
 */
export function gcpResourceNameProblem(name: string, what: string): string | undefined {
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name))
    return `${what}: 1-63 lower-case letters, digits and hyphens, starting with a letter, not ending with a hyphen`;
  return undefined;
}

/** A GKE cluster name: 1-40 characters, a lower-case letter first, lower-case letters, digits and hyphens, not ending with a hyphen. */
export function gkeClusterNameProblem(name: string): string | undefined {
  if (!/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/.test(name))
    return "a GKE cluster name: 1-40 lower-case letters, digits and hyphens, starting with a letter, not ending with a hyphen";
  return undefined;
}

/** A service account id (the part of its e-mail before '@'): 6-30 lower-case letters, digits and hyphens, a letter first. */
export function serviceAccountIdProblem(id: string): string | undefined {
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(id))
    return "a service account id: 6-30 lower-case letters, digits and hyphens, starting with a letter, not ending with a hyphen";
  return undefined;
}

/**
 * A Workload Identity pool or pool provider id (workloadIdentityPoolId, workloadIdentityProviderId): 4-32
 * lower-case letters, digits and hyphens; the prefix "gcp-" is reserved by Google.
 */
export function workloadIdentityIdProblem(id: string, what: "pool" | "provider"): string | undefined {
  if (!/^[a-z0-9-]{4,32}$/.test(id) || id.startsWith("gcp-"))
    return `a Workload Identity ${what} id: 4-32 lower-case letters, digits and hyphens, not starting with "gcp-" (reserved by Google)`;
  return undefined;
}

// ── Secret Manager ───────────────────────────────────────────────────────────────

/**
 * A Secret Manager secret's full name, `projects/<project id or number>/secrets/<secret id>`.
 *
 * | rule | source |
 * |---|---|
 * | secret id: 1-255 characters | projects.secrets.create, `secretId` (secretId) |
 * | uppercase and lowercase letters, numerals, '-' and '_' | same |
 * | the project: its id or its number | same (`parent`: "projects/*") |
 */
export function secretManagerSecretProblem(name: string): string | undefined {
  const rule =
    "a Secret Manager secret's full name \"projects/<project id or number>/secrets/<secret id>\", the secret id 1-255 letters, digits, '-' and '_'";
  const m = /^projects\/([^/]+)\/secrets\/([^/]+)$/.exec(name);
  if (!m) return rule;
  const [, project, id] = m;
  if (!/^\d+$/.test(project) && gcpProjectIdProblem(project)) return `${rule}: "${project}" is neither a project id nor a project number`;
  if (id.length > 255) return `${rule} (this secret id has ${id.length} characters)`;
  if (!/^[A-Za-z0-9_-]+$/.test(id)) return `${rule}: "${id}" is not one`;
  return undefined;
}

/** A secret version: "latest" or a version number (secretVersion: versions are numbered from 1). */
export function secretManagerVersionProblem(version: string | number): string | undefined {
  if (version === "latest") return undefined;
  if (typeof version === "number" && Number.isInteger(version) && version >= 1) return undefined;
  return 'a secret version: "latest" or a version number from 1';
}

// ── labels ───────────────────────────────────────────────────────────────────────

/**
 * | rule | source (labels) |
 * |---|---|
 * | at most 64 labels per resource | requirements |
 * | keys: 1-63 characters, a lower-case letter first, then lower-case letters, digits, '_' and '-' | same |
 * | values: 0-63 lower-case letters, digits, '_' and '-' | same |
 */
export const GCP_LABEL_LIMITS = { length: 63, perResource: 64 } as const;

/** Problem with one label key, or undefined. */
export function gcpLabelKeyProblem(key: string): string | undefined {
  if (!/^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u.test(key))
    return "a label key of 1-63 lower-case letters, digits, '_' and '-', starting with a lower-case letter (Google Cloud labels)";
  return undefined;
}

/** Problem with one label value, or undefined. */
export function gcpLabelValueProblem(value: string): string | undefined {
  if (!/^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u.test(value))
    return "a label value of at most 63 lower-case letters, digits, '_' and '-' (Google Cloud labels)";
  return undefined;
}
