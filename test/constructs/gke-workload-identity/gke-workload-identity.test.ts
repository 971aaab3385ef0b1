import { Testing, TerraformStack } from "cdktf";
import {
  GKE_SERVICE_ACCOUNT_ANNOTATION,
  GkeWorkloadIdentity,
  type GkeWorkloadIdentityProps,
} from "../../../constructs/gke-workload-identity";
import { PropError } from "../../../constructs/core/prop-error";
import type { TfJson } from "../../helpers/synth";

const BASE: GkeWorkloadIdentityProps = {
  projectId: "example-ml-dev",
  accountId: "mlflow-dev-mlflow",
  namespace: "mlflow",
  serviceAccountName: "mlflow",
  bucketName: "mlflow-dev-artifacts",
  prefix: "mlartifacts",
};

function synth(props: Partial<GkeWorkloadIdentityProps> = {}): { json: TfJson; identity: GkeWorkloadIdentity } {
  const stack = new TerraformStack(Testing.app(), "test");
  const identity = new GkeWorkloadIdentity(stack, "wi", { ...BASE, ...props });
  return { json: JSON.parse(Testing.synth(stack)) as TfJson, identity };
}

describe("GkeWorkloadIdentity", () => {
  it("lets only the workload's Kubernetes service account act as its Google service account", () => {
    const { json } = synth();
    expect(Object.values(json.resource!.google_service_account_iam_member)).toEqual([
      {
        service_account_id: expect.stringMatching(/^\$\{google_service_account\.\w+\.name\}$/),
        role: "roles/iam.workloadIdentityUser",
        member: "serviceAccount:example-ml-dev.svc.id.goog[mlflow/mlflow]",
      },
    ]);
  });

  it("grants its prefix of the bucket only: objects under it, listing under it, nothing at the project", () => {
    const { json } = synth();
    const grants = Object.values(json.resource!.google_storage_bucket_iam_member) as Record<string, any>[];
    expect(grants.map((g) => [g.role, g.bucket, g.condition.expression]).sort((a, b) => a[0].localeCompare(b[0]))).toEqual([
      [
        "roles/storage.objectUser",
        "mlflow-dev-artifacts",
        'resource.name.startsWith("projects/_/buckets/mlflow-dev-artifacts/objects/mlartifacts/")',
      ],
      [
        "roles/storage.objectViewer",
        "mlflow-dev-artifacts",
        'resource.type == "storage.googleapis.com/Bucket" && api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("mlartifacts/")',
      ],
    ]);
    expect(Object.keys(json.resource!).filter((t) => /project_iam|bucket_iam_binding|bucket_iam_policy/.test(t))).toEqual([]);
  });

  it("hands the tracking server the service account annotation", () => {
    const { identity } = synth();
    expect(identity.contract.serviceAccountName).toBe("mlflow");
    expect(Object.keys(identity.contract.serviceAccountAnnotations)).toEqual([GKE_SERVICE_ACCOUNT_ANNOTATION]);
  });

  it.each([
    [{ accountId: "ml" }, "accountId"],
    [{ prefix: "" }, "prefix"],
  ])("refuses %j naming the prop (no prefix would be the whole bucket)", (props, prop) => {
    try {
      synth(props);
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(PropError);
      expect((err as PropError).prop).toBe(prop);
    }
  });
});

describe("GkeWorkloadIdentity with access object-metadata (model retention)", () => {
  it("binds one custom role of list + update only, under the same prefix conditions, and no predefined role", () => {
    const { json, identity } = synth({ access: "object-metadata", customRoleId: "mlflow_dev_model_retention" });
    const role = Object.values(json.resource!.google_project_iam_custom_role)[0] as Record<string, any>;
    expect(role).toMatchObject({ project: "example-ml-dev", role_id: "mlflow_dev_model_retention" });
    expect(role.permissions).toEqual(["storage.objects.list", "storage.objects.update"]);
    const bindings = Object.values(json.resource!.google_storage_bucket_iam_member) as Record<string, any>[];
    expect(bindings.map((b) => b.role)).toEqual(
      Array(2).fill(`\${google_project_iam_custom_role.${Object.keys(json.resource!.google_project_iam_custom_role)[0]}.name}`),
    );
    expect(bindings.map((b) => b.condition.expression).sort()).toEqual([
      'resource.name.startsWith("projects/_/buckets/mlflow-dev-artifacts/objects/mlartifacts/")',
      expect.stringContaining('objectListPrefix", "").startsWith("mlartifacts/")'),
    ]);
    expect(identity.customRole).toBeDefined();
  });

  it("refuses object-metadata without a valid custom role id", () => {
    for (const customRoleId of [undefined, "has-hyphens", "ab"]) {
      try {
        synth({ access: "object-metadata", customRoleId });
        throw new Error("accepted");
      } catch (err) {
        expect((err as PropError).prop).toBe("customRoleId");
      }
    }
  });
});

describe("GkeWorkloadIdentity for the inference log: create-objects (model server), read-objects (drift job)", () => {
  const LOG = "inference-logs/model=iris";
  const bindings = (json: TfJson) =>
    (Object.values(json.resource!.google_storage_bucket_iam_member) as Record<string, any>[])
      .map((b) => [b.role, b.condition.expression])
      .sort((a, b) => a[1].localeCompare(b[1]));

  it("create-objects: roles/storage.objectCreator on objects under the model's log only, no listing, nothing else", () => {
    const { json } = synth({ access: "create-objects", prefix: LOG });
    expect(bindings(json)).toEqual([
      [
        "roles/storage.objectCreator",
        'resource.name.startsWith("projects/_/buckets/mlflow-dev-artifacts/objects/inference-logs/model=iris/")',
      ],
    ]);
    expect(json.resource!.google_project_iam_custom_role).toBeUndefined();
  });

  it("read-objects: roles/storage.objectViewer on objects under the model's log and on listing under it, nothing else", () => {
    const { json } = synth({ access: "read-objects", prefix: LOG });
    expect(bindings(json)).toEqual([
      [
        "roles/storage.objectViewer",
        'resource.name.startsWith("projects/_/buckets/mlflow-dev-artifacts/objects/inference-logs/model=iris/")',
      ],
      [
        "roles/storage.objectViewer",
        'resource.type == "storage.googleapis.com/Bucket" && api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("inference-logs/model=iris/")',
      ],
    ]);
  });

  it("takes a partitioned prefix only in these modes (the artifact prefix stays a plain one)", () => {
    expect(() => synth({ prefix: LOG })).toThrow(PropError);
    for (const access of ["create-objects", "read-objects"] as const)
      expect(() => synth({ access, prefix: "/inference-log" })).toThrow(/inference-logs\/model=iris/);
  });
});
