import { Testing, TerraformStack } from "cdktf";
import { ArtifactRegistry } from "../../../constructs/artifact-registry";
import { PropError } from "../../../constructs/core/prop-error";
import type { TfJson } from "../../helpers/synth";

const props = {
  repositoryId: "mlflow-dev-models",
  projectId: "example-ml-dev",
  projectNumber: "123456789012",
  location: "europe-west1",
  keyRingId: "projects/example-ml-dev/locations/europe-west1/keyRings/mlflow-dev",
};

describe("ArtifactRegistry", () => {
  it("is a CMEK-encrypted Docker repository with immutable tags, its key usable by Artifact Registry's agent", () => {
    const stack = new TerraformStack(Testing.app(), "test");
    const registry = new ArtifactRegistry(stack, "r", props);
    const json = JSON.parse(Testing.synth(stack)) as TfJson;
    const repo = Object.values(json.resource!.google_artifact_registry_repository)[0] as Record<string, any>;
    const [keyName] = Object.keys(json.resource!.google_kms_crypto_key);
    expect(repo).toMatchObject({
      format: "DOCKER",
      kms_key_name: `\${google_kms_crypto_key.${keyName}.id}`,
      docker_config: { immutable_tags: true },
      cleanup_policies: [{ id: "delete-untagged", action: "DELETE", condition: { tag_state: "UNTAGGED", older_than: "1209600s" } }],
    });
    expect((Object.values(json.resource!.google_kms_crypto_key_iam_member)[0] as Record<string, any>).member).toBe(
      "serviceAccount:service-123456789012@gcp-sa-artifactregistry.iam.gserviceaccount.com",
    );
    expect(registry.url).toBe("europe-west1-docker.pkg.dev/example-ml-dev/mlflow-dev-models");
  });

  it("refuses a repository id Artifact Registry refuses", () => {
    expect(() => new ArtifactRegistry(new TerraformStack(Testing.app(), "t"), "r", { ...props, repositoryId: "Models" })).toThrow(
      PropError,
    );
  });
});
