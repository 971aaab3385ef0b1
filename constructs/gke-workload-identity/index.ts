/**
 * A workload's Google identity on GKE: a Google service account of its own, which only the workload's
 * Kubernetes service account may act as (GKE Workload Identity: `roles/iam.workloadIdentityUser` granted to
 * the member `serviceAccount:<project>.svc.id.goog[<namespace>/<name>]`), with access to its own prefix of
 * the artifact bucket and nothing else:
 *
 * | binding on the bucket | role | IAM condition |
 * |---|---|---|
 * | objects under the prefix | roles/storage.objectUser (read, write, delete objects; multipart uploads) | `resource.name` starts with `projects/_/buckets/<bucket>/objects/<prefix>/` |
 * | listing under the prefix | roles/storage.objectViewer (on the bucket only `storage.objects.list` applies) | a bucket request whose list prefix (`storage.googleapis.com/objectListPrefix`) starts with `<prefix>/` |
 *
 * With `access: "object-metadata"` (the model retention job) both bindings hold instead one custom role of the
 * project with only `storage.objects.list` and `storage.objects.update` (object metadata such as Custom-Time: no
 * read of an object's data, no write, no delete), under the same conditions.
 *
 * No project-level role is granted. Objects are encrypted by Cloud Storage's service agent with the
 * bucket's key (CMEK), so the workload needs no Cloud KMS permission.
 */
import { Construct } from "constructs";
import { Token, type ITerraformDependable } from "cdktf";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { ServiceAccountIamMember } from "@cdktf/provider-google/lib/service-account-iam-member";
import { StorageBucketIamMember } from "@cdktf/provider-google/lib/storage-bucket-iam-member";
import { ProjectIamCustomRole } from "@cdktf/provider-google/lib/project-iam-custom-role";
import type { GcpTrackingIdentityContract } from "../core/contracts";
import { serviceAccountIdProblem } from "../core/gcp-limits";
import { isS3KeyPrefix } from "../core/s3-prefix";
import { PropError } from "../core/prop-error";

/** The annotation binding a Kubernetes service account to a Google service account (GKE Workload Identity). */
export const GKE_SERVICE_ACCOUNT_ANNOTATION = "iam.gke.io/gcp-service-account";

/** Props of {@link GkeWorkloadIdentity}. */
export interface GkeWorkloadIdentityProps {
  /** The Google Cloud project (its Workload Identity pool is `<project>.svc.id.goog`). Required. */
  readonly projectId: string;
  /** The Google service account's id (the part of its e-mail before '@'; 6-30 characters). Required. */
  readonly accountId: string;
  /** Namespace of the Kubernetes service account. Required. */
  readonly namespace: string;
  /** Name of the Kubernetes service account. Required. */
  readonly serviceAccountName: string;
  /** The artifact bucket the workload reads and writes. Required. */
  readonly bucketName: string;
  /** The only prefix of the bucket the workload may touch (MLflow's artifact prefix). Required. */
  readonly prefix: string;
  /**
   * What the workload may do under the prefix: "read-write" objects (roles/storage.objectUser), or only list them
   * and update their metadata ("object-metadata": a custom role, `customRoleId`).
   * @default "read-write"
   */
  readonly access?: "read-write" | "object-metadata";
  /** The custom role's id in the project (3-64 letters, digits, '_' and '.'), with access "object-metadata". @default - none */
  readonly customRoleId?: string;
  /** What the Google service account is for, shown in the console. @default "MLflow workload" */
  readonly description?: string;
  /** What the bucket bindings wait for (the bucket, when it is created in the same stack). @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

/** IAM condition expressions limiting a bucket binding to one prefix: its objects, and listing under it. */
export function prefixConditions(bucketName: string, prefix: string): { objects: string; listing: string } {
  return {
    objects: `resource.name.startsWith("projects/_/buckets/${bucketName}/objects/${prefix}/")`,
    listing: `resource.type == "storage.googleapis.com/Bucket" && api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("${prefix}/")`,
  };
}

/** The only permissions of the "object-metadata" custom role: list objects, update an object's metadata. */
export const OBJECT_METADATA_PERMISSIONS = ["storage.objects.list", "storage.objects.update"] as const;

/** A Google service account bound to one Kubernetes service account, with access to one prefix of one bucket. */
export class GkeWorkloadIdentity extends Construct {
  readonly serviceAccount: ServiceAccount;
  /** The custom role, with access "object-metadata". */
  readonly customRole?: ProjectIamCustomRole;
  readonly contract: GcpTrackingIdentityContract;

  constructor(scope: Construct, id: string, props: GkeWorkloadIdentityProps) {
    super(scope, id);
    if (!Token.isUnresolved(props.accountId)) {
      const p = serviceAccountIdProblem(props.accountId);
      if (p) throw new PropError(this, "accountId", props.accountId, p);
    }
    // A prefix-less grant would be the whole bucket: least privilege needs a prefix.
    if (!isS3KeyPrefix(props.prefix))
      throw new PropError(this, "prefix", props.prefix, "an object name prefix such as \"mlartifacts\" (without leading or trailing '/')");

    const metadataOnly = props.access === "object-metadata";
    if (metadataOnly && !(props.customRoleId && /^[a-zA-Z0-9_.]{3,64}$/.test(props.customRoleId)))
      throw new PropError(this, "customRoleId", props.customRoleId, "a custom role id: 3-64 letters, digits, '_' and '.'");

    this.serviceAccount = new ServiceAccount(this, "service_account", {
      accountId: props.accountId,
      project: props.projectId,
      displayName: props.accountId,
      description: props.description ?? "MLflow workload",
    });
    new ServiceAccountIamMember(this, "workload_identity_user", {
      serviceAccountId: this.serviceAccount.name,
      role: "roles/iam.workloadIdentityUser",
      member: `serviceAccount:${props.projectId}.svc.id.goog[${props.namespace}/${props.serviceAccountName}]`,
    });
    const member = `serviceAccount:${this.serviceAccount.email}`;
    const conditions = prefixConditions(props.bucketName, props.prefix);
    if (metadataOnly)
      this.customRole = new ProjectIamCustomRole(this, "custom_role", {
        project: props.projectId,
        roleId: props.customRoleId!,
        title: props.customRoleId!,
        description: `List objects and update their metadata (${props.description ?? "MLflow workload"})`,
        permissions: [...OBJECT_METADATA_PERMISSIONS],
        stage: "GA",
      });
    new StorageBucketIamMember(this, "objects", {
      bucket: props.bucketName,
      role: this.customRole?.name ?? "roles/storage.objectUser",
      member,
      condition: { title: "artifact-prefix-objects", description: `Objects under ${props.prefix}/ only`, expression: conditions.objects },
      dependsOn: props.dependsOn,
    });
    new StorageBucketIamMember(this, "listing", {
      bucket: props.bucketName,
      role: this.customRole?.name ?? "roles/storage.objectViewer",
      member,
      condition: { title: "artifact-prefix-listing", description: `Listing under ${props.prefix}/ only`, expression: conditions.listing },
      dependsOn: props.dependsOn,
    });

    this.contract = {
      serviceAccountName: props.serviceAccountName,
      serviceAccountAnnotations: { [GKE_SERVICE_ACCOUNT_ANNOTATION]: this.serviceAccount.email },
      googleServiceAccountEmail: this.serviceAccount.email,
    };
  }
}
