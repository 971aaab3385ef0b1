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
 * Two more modes serve the inference log (`<prefix>` is then one model's log, `inference-logs/model=<name>`):
 *
 * | access | bindings under the prefix |
 * |---|---|
 * | "create-objects" (the model server) | roles/storage.objectCreator on objects under the prefix only, no listing binding: `storage.objects.create` (and the resumable/XML multipart upload permissions), which "does not give permission to view, delete, or overwrite objects" (https://cloud.google.com/storage/docs/access-control/iam-roles): replacing an object would need `storage.objects.delete` |
 * | "read-objects" (the drift job) | roles/storage.objectViewer (`storage.objects.get`, `storage.objects.list`) on objects under the prefix, and on listing under it |
 *
 * The conditions are IAM Conditions on the resource name (`projects/_/buckets/<bucket>/objects/<object>` for an
 * object: https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name) and on the list request's
 * prefix (the `storage.googleapis.com/objectListPrefix` API attribute:
 * https://cloud.google.com/iam/docs/conditions-attribute-reference#api-attributes).
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

/** What a workload may do under its prefix ({@link GkeWorkloadIdentityProps.access}). */
export type GkeWorkloadAccess = "read-write" | "object-metadata" | "create-objects" | "read-objects";

/** The predefined role of each access mode on objects under the prefix, and on listing it (none: no listing). */
const PREDEFINED_ROLES: Record<Exclude<GkeWorkloadAccess, "object-metadata">, { objects: string; listing?: string }> = {
  "read-write": { objects: "roles/storage.objectUser", listing: "roles/storage.objectViewer" },
  // Create only: a model server writes its inference log and never needs to see it (nor anyone else's).
  "create-objects": { objects: "roles/storage.objectCreator" },
  "read-objects": { objects: "roles/storage.objectViewer", listing: "roles/storage.objectViewer" },
};

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
   * and update their metadata ("object-metadata": a custom role, `customRoleId`), or only create objects
   * ("create-objects": a model server's inference log), or only list and read them ("read-objects": the drift job).
   * The last two take a partitioned prefix (`inference-logs/model=<name>`).
   * @default "read-write"
   */
  readonly access?: GkeWorkloadAccess;
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
    const access = props.access ?? "read-write";
    const logAccess = access === "create-objects" || access === "read-objects";
    if (!isS3KeyPrefix(props.prefix, { partitions: logAccess }))
      throw new PropError(
        this,
        "prefix",
        props.prefix,
        logAccess
          ? "an object name prefix such as \"inference-logs/model=iris\" (without leading or trailing '/')"
          : "an object name prefix such as \"mlartifacts\" (without leading or trailing '/')",
      );

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
    const roles = metadataOnly ? undefined : PREDEFINED_ROLES[access as Exclude<GkeWorkloadAccess, "object-metadata">];
    new StorageBucketIamMember(this, "objects", {
      bucket: props.bucketName,
      role: this.customRole?.name ?? roles!.objects,
      member,
      condition: { title: "artifact-prefix-objects", description: `Objects under ${props.prefix}/ only`, expression: conditions.objects },
      dependsOn: props.dependsOn,
    });
    const listingRole = this.customRole?.name ?? roles!.listing;
    if (listingRole)
      new StorageBucketIamMember(this, "listing", {
        bucket: props.bucketName,
        role: listingRole,
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
