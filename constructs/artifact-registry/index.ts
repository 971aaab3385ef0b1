/**
 * The registry of model images on Google Cloud: an Artifact Registry Docker repository encrypted with its
 * own Cloud KMS key (CMEK), with immutable tags (a released tag always names the same image, as ECR's
 * IMMUTABLE repositories do) and a cleanup policy deleting untagged images after a grace period.
 */
import { Construct } from "constructs";
import { ArtifactRegistryRepository } from "@cdktf/provider-google/lib/artifact-registry-repository";
import { KmsCryptoKey } from "@cdktf/provider-google/lib/kms-crypto-key";
import { KmsCryptoKeyIamMember } from "@cdktf/provider-google/lib/kms-crypto-key-iam-member";
import { PropError } from "../core/prop-error";

/** Props of {@link ArtifactRegistry}. */
export interface ArtifactRegistryProps {
  /** Repository id: lower-case letters, digits and hyphens, a letter first, at most 63. Required. */
  readonly repositoryId: string;
  /** The Google Cloud project. Required. */
  readonly projectId: string;
  /** The project's number: Artifact Registry's service agent is granted the key. Required. */
  readonly projectNumber: string;
  /** The repository's region. Required. */
  readonly location: string;
  /** The key ring the repository's key is created in. Required. */
  readonly keyRingId: string;
  /** Untagged images are deleted this many days after upload. @default 14 */
  readonly untaggedDays?: number;
  /** Terraform refuses to destroy the repository and its key (production). @default false */
  readonly preventDestroy?: boolean;
  /** Labels on the repository and its key. @default {} */
  readonly labels?: Record<string, string>;
}

/** A CMEK-encrypted Docker repository with immutable tags. */
export class ArtifactRegistry extends Construct {
  readonly repository: ArtifactRegistryRepository;
  /** Where images are pushed: `<location>-docker.pkg.dev/<project>/<repository>`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ArtifactRegistryProps) {
    super(scope, id);
    if (!/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(props.repositoryId))
      throw new PropError(
        this,
        "repositoryId",
        props.repositoryId,
        "a repository id: 1-63 lower-case letters, digits and hyphens, a letter first",
      );
    const untaggedDays = props.untaggedDays ?? 14;
    if (!Number.isInteger(untaggedDays) || untaggedDays < 1 || untaggedDays > 3650)
      throw new PropError(this, "untaggedDays", untaggedDays, "a whole number of days from 1 to 3650");
    const lifecycle = props.preventDestroy ? { preventDestroy: true } : undefined;
    const labels = props.labels ?? {};

    const key = new KmsCryptoKey(this, "key", {
      name: "images",
      keyRing: props.keyRingId,
      purpose: "ENCRYPT_DECRYPT",
      rotationPeriod: `${90 * 86400}s`,
      labels,
      lifecycle,
    });
    const keyUse = new KmsCryptoKeyIamMember(this, "key_use", {
      cryptoKeyId: key.id,
      role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
      member: `serviceAccount:service-${props.projectNumber}@gcp-sa-artifactregistry.iam.gserviceaccount.com`,
    });
    this.repository = new ArtifactRegistryRepository(this, "repository", {
      repositoryId: props.repositoryId,
      project: props.projectId,
      location: props.location,
      format: "DOCKER",
      description: "Model images",
      kmsKeyName: key.id,
      dockerConfig: { immutableTags: true },
      cleanupPolicyDryRun: false,
      cleanupPolicies: [
        { id: "delete-untagged", action: "DELETE", condition: { tagState: "UNTAGGED", olderThan: `${untaggedDays * 86400}s` } },
      ],
      labels,
      lifecycle,
      dependsOn: [keyUse],
    });
    this.url = `${props.location}-docker.pkg.dev/${props.projectId}/${props.repositoryId}`;
  }
}
