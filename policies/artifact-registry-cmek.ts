import { PolicyRule, resources, type Finding, type TfJson } from "./rule";

/** MLF-AR-1: every Artifact Registry repository is encrypted with a customer-managed Cloud KMS key. */
export class ArtifactRegistryCmek extends PolicyRule {
  readonly id = "MLF-AR-1";
  readonly reason =
    "Model images carry the model itself: their repository must be encrypted with a customer-managed Cloud KMS key (kms_key_name), whose IAM the stack controls.";

  check(json: TfJson): Finding[] {
    return resources(json, "google_artifact_registry_repository").flatMap(([name, repo]) =>
      repo.kms_key_name
        ? []
        : [{ resource: `google_artifact_registry_repository.${name}`, message: "repository has no kms_key_name (CMEK)" }],
    );
  }
}
