/**
 * A scheduled job of the Kubernetes half (cronJobWorkload) that runs as its own cloud identity on GKE or AKS, with
 * access to one prefix of the artifact store only: the model retention and drift jobs of a GCP or Azure stack. Each
 * feature says which prefix and which access; the identity, its binding and the CronJob are made the same way.
 */
import type { Construct } from "constructs";
import type { ITerraformDependable } from "cdktf";
import type { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import type { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { cronJobWorkload, validateCronJobWorkload, type CronJobWorkloadProps } from "./api-client-cron-job";
import { GkeWorkloadIdentity, type GkeWorkloadIdentityProps } from "../gke-workload-identity";
import { AksWorkloadIdentity, type AksWorkloadIdentityProps } from "../aks-workload-identity";

/** A CronJob's own Google identity: what the job's props add to the Kubernetes half on GKE. */
export interface GkeCronJobIdentityProps extends CronJobWorkloadProps {
  /** The Google Cloud project (its Workload Identity pool). Required. */
  readonly projectId: string;
  /** The job's own Google service account id (6-30 characters). Required. */
  readonly googleServiceAccountId: string;
  /** The artifact bucket. Required. */
  readonly bucketName: string;
  /** What the bucket bindings wait for (the bucket). @default [] */
  readonly storeDependsOn?: ITerraformDependable[];
}

/** A CronJob's own managed identity: what the job's props add to the Kubernetes half on AKS. */
export interface AksCronJobIdentityProps extends CronJobWorkloadProps {
  /** The job's managed identity's name. Required. */
  readonly identityName: string;
  /** The existing resource group of the identity. Required. */
  readonly resourceGroupName: string;
  /** The identity's Azure region. Required. */
  readonly location: string;
  /** The AKS cluster's OIDC issuer URL. Required. */
  readonly oidcIssuerUrl: string;
  /** The artifact container's Azure Resource Manager id (the role assignment's scope). Required. */
  readonly containerScope: string;
  /** The artifact container's name. Required. */
  readonly containerName: string;
  /** The custom role's name (unique in the tenant) and the scope it is defined at (the resource group's id). Required. */
  readonly roleDefinition: { readonly name: string; readonly scope: string };
  /** Tags on the identity. @default {} */
  readonly tags?: Record<string, string>;
  /** What the role assignment waits for (the container). @default [] */
  readonly storeDependsOn?: ITerraformDependable[];
}

/** Which prefix the job reaches, how, and its container's name. */
interface CloudCronJobSpec {
  readonly containerName: string;
  /** The prop naming the prefix (for the error), its value and the pattern it must match. */
  readonly prefix: { readonly field: string; readonly value: string; readonly pattern: RegExp };
}

/** The CronJob and its Google service account (made as `identity`, then the job's `service-account` and CronJob). */
export function gkeCronJob(
  scope: Construct,
  props: GkeCronJobIdentityProps,
  spec: CloudCronJobSpec & Pick<GkeWorkloadIdentityProps, "access" | "customRoleId" | "description">,
): { readonly cronJob: CronJobV1; readonly serviceAccount: ServiceAccountV1; readonly identity: GkeWorkloadIdentity } {
  validateCronJobWorkload(scope, props, spec.prefix);
  const identity = new GkeWorkloadIdentity(scope, "identity", {
    projectId: props.projectId,
    accountId: props.googleServiceAccountId,
    namespace: props.namespace,
    serviceAccountName: props.name,
    bucketName: props.bucketName,
    prefix: spec.prefix.value,
    access: spec.access,
    ...(spec.customRoleId !== undefined ? { customRoleId: spec.customRoleId } : {}),
    description: spec.description,
    dependsOn: props.storeDependsOn,
  });
  const { cronJob, serviceAccount } = cronJobWorkload(scope, props, spec.containerName, {
    serviceAccountAnnotations: identity.contract.serviceAccountAnnotations,
    readyWith: [identity.serviceAccount],
  });
  return { cronJob, serviceAccount, identity };
}

/** The CronJob and its managed identity (made as `identity`, then the job's `service-account` and CronJob). */
export function aksCronJob(
  scope: Construct,
  props: AksCronJobIdentityProps,
  spec: CloudCronJobSpec & Pick<AksWorkloadIdentityProps, "access">,
): { readonly cronJob: CronJobV1; readonly serviceAccount: ServiceAccountV1; readonly identity: AksWorkloadIdentity } {
  validateCronJobWorkload(scope, props, spec.prefix);
  const identity = new AksWorkloadIdentity(scope, "identity", {
    name: props.identityName,
    resourceGroupName: props.resourceGroupName,
    location: props.location,
    oidcIssuerUrl: props.oidcIssuerUrl,
    namespace: props.namespace,
    serviceAccountName: props.name,
    containerScope: props.containerScope,
    containerName: props.containerName,
    prefix: spec.prefix.value,
    access: spec.access,
    roleDefinition: props.roleDefinition,
    tags: props.tags,
    dependsOn: props.storeDependsOn,
  });
  const { cronJob, serviceAccount } = cronJobWorkload(scope, props, spec.containerName, {
    serviceAccountAnnotations: identity.contract.serviceAccountAnnotations,
    podLabels: identity.contract.podLabels,
    readyWith: [identity.identity],
  });
  return { cronJob, serviceAccount, identity };
}
