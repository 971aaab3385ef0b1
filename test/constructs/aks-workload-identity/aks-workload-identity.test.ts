import { AksWorkloadIdentity, prefixCondition, type AksWorkloadIdentityProps } from "../../../constructs/aks-workload-identity";
import { AZ, azureStack, expectPropError, nameOf, only, synthJsonOf } from "../../helpers/azure-construct-stack";

const SCOPE = `/subscriptions/${AZ.subscriptionId}/resourceGroups/rg-mlflow-dev/providers/Microsoft.Storage/storageAccounts/mlflowdevartifacts/blobServices/default/containers/mlflow`;
const BASE: AksWorkloadIdentityProps = {
  name: "id-mlflow-dev",
  resourceGroupName: AZ.resourceGroupName,
  location: AZ.location,
  oidcIssuerUrl: "https://westeurope.oic.prod-aks.azure.com/0b1f6471-1bf0-4dda-aec3-111122223333/5c2e0e47-0000-4000-8000-000000000000/",
  namespace: "mlflow",
  serviceAccountName: "mlflow",
  containerScope: SCOPE,
  containerName: "mlflow",
  prefix: "mlartifacts",
};

function synth(props: Partial<AksWorkloadIdentityProps> = {}) {
  const stack = azureStack();
  const identity = new AksWorkloadIdentity(stack, "workload_identity", { ...BASE, ...props });
  return { json: synthJsonOf(stack), identity };
}

describe("AksWorkloadIdentity", () => {
  it("trusts only the cluster's token for the one service account, for Entra ID's token exchange", () => {
    const { json } = synth();
    expect(only(json, "azurerm_federated_identity_credential")).toMatchObject({
      issuer: BASE.oidcIssuerUrl,
      subject: "system:serviceaccount:mlflow:mlflow",
      audience: ["api://AzureADTokenExchange"],
      parent_id: `\${azurerm_user_assigned_identity.${nameOf(json, "azurerm_user_assigned_identity")}.id}`,
    });
  });

  it("grants Storage Blob Data Contributor on the container only, conditioned on the prefix", () => {
    const { json } = synth();
    const grant = only(json, "azurerm_role_assignment");
    expect(grant).toMatchObject({
      scope: SCOPE,
      role_definition_name: "Storage Blob Data Contributor",
      principal_type: "ServicePrincipal",
      condition_version: "2.0",
      condition: prefixCondition("mlflow", "mlartifacts"),
    });
  });

  it("the condition limits every blob action to the prefix, and listing to a prefix under it", () => {
    const condition = prefixCondition("mlflow", "mlartifacts");
    for (const action of ["read'} AND NOT SubOperationMatches{'Blob.List", "write", "add/action", "move/action", "delete"])
      expect(condition).toContain(`!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/${action}'`);
    expect(condition).toContain(
      "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'mlflow' AND @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'mlartifacts/'",
    );
    expect(condition).toContain(
      "@Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith 'mlartifacts/'",
    );
    // Balanced parentheses: Azure refuses a condition it cannot parse only at apply time.
    let depth = 0;
    for (const ch of condition.replace(/'[^']*'/g, "")) {
      depth += ch === "(" ? 1 : ch === ")" ? -1 : 0;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
  });

  it("offers the client-id annotation and the webhook's pod label through its contract", () => {
    const { identity } = synth();
    expect(Object.keys(identity.contract.serviceAccountAnnotations)).toEqual(["azure.workload.identity/client-id"]);
    expect(identity.contract.podLabels).toEqual({ "azure.workload.identity/use": "true" });
    expect(identity.contract.serviceAccountName).toBe("mlflow");
  });

  it.each([
    [{ prefix: "" }, "prefix", /prefix/],
    [{ oidcIssuerUrl: "http://issuer.example" }, "oidcIssuerUrl", /oidcIssuerProfile.issuerUrl/],
    [{ name: "x" }, "name", /3-128/],
    [{ namespace: "ML_Flow" }, "namespace", /namespace/],
    [{ containerName: "Bad_Name" }, "containerName", /container/],
  ])("refuses %j naming the prop and the fix", (props, prop, message) => {
    expectPropError(() => synth(props as Partial<AksWorkloadIdentityProps>), prop, message);
  });
});

describe("AksWorkloadIdentity with access blob-tags (model retention)", () => {
  const DEF = { name: "mlflow-dev-model-retention", scope: `/subscriptions/${AZ.subscriptionId}/resourceGroups/${AZ.resourceGroupName}` };

  it("assigns its own role of listing and blob index tags only, conditioned on the prefix; no built-in data role", () => {
    const { json } = synth({ access: "blob-tags", roleDefinition: DEF });
    const def = only(json, "azurerm_role_definition");
    expect(def).toMatchObject({ name: DEF.name, scope: DEF.scope, assignable_scopes: [DEF.scope] });
    expect(def.permissions[0].data_actions).toEqual([
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags/read",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags/write",
    ]);
    const assignment = only(json, "azurerm_role_assignment");
    expect(assignment.role_definition_name).toBeUndefined();
    expect(assignment).toMatchObject({ scope: SCOPE, condition_version: "2.0" });
    // blobs/read only with a list prefix under the artifacts' (Get Blob has no prefix attribute: refused).
    expect(assignment.condition).toContain(
      "(!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'}))\n OR\n (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'mlflow' AND @Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith 'mlartifacts/')",
    );
    expect(assignment.condition).toContain(
      "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'mlartifacts/'",
    );
    expect(assignment.condition).not.toContain("SubOperationMatches");
  });

  it("refuses blob-tags without the role's name and scope", () => {
    expectPropError(() => synth({ access: "blob-tags" }), "roleDefinition", /custom role's name and scope/);
  });
});

describe("AksWorkloadIdentity with access blob-create and blob-read (a model's inference log)", () => {
  const DEF = { name: "mlflow-dev-model-iris-log", scope: `/subscriptions/${AZ.subscriptionId}/resourceGroups/${AZ.resourceGroupName}` };
  const LOG = "inference-logs/model=iris";
  const BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs";

  it("blob-create: a role whose one data action creates blobs, only at a path under the model's log prefix", () => {
    const { json } = synth({ access: "blob-create", roleDefinition: DEF, prefix: LOG, serviceAccountName: "mlflow-dev-iris" });
    const def = only(json, "azurerm_role_definition");
    // Not blobs/write (writing over an existing blob), not read or delete: a server can only add records.
    expect(def.permissions[0]).toEqual({ actions: [], data_actions: [`${BLOBS}/add/action`] });
    const assignment = only(json, "azurerm_role_assignment");
    expect(assignment.role_definition_name).toBeUndefined();
    expect(assignment).toMatchObject({ scope: SCOPE, condition_version: "2.0" });
    expect(assignment.condition).toBe(
      [
        "(",
        ` (!(ActionMatches{'${BLOBS}/add/action'}))`,
        " OR",
        ` (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'mlflow' AND @Resource[${BLOBS}:path] StringStartsWith 'inference-logs/model=iris/')`,
        ")",
      ].join("\n"),
    );
  });

  it("blob-read: a role that only reads, a blob under the model's log prefix, a listing with a prefix under it", () => {
    const { json } = synth({ access: "blob-read", roleDefinition: DEF, prefix: LOG, serviceAccountName: "mlflow-drift-iris" });
    expect(only(json, "azurerm_role_definition").permissions[0]).toEqual({ actions: [], data_actions: [`${BLOBS}/read`] });
    const condition = only(json, "azurerm_role_assignment").condition as string;
    expect(condition).toContain(
      `(!(ActionMatches{'${BLOBS}/read'} AND NOT SubOperationMatches{'Blob.List'}))\n OR\n (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'mlflow' AND @Resource[${BLOBS}:path] StringStartsWith 'inference-logs/model=iris/')`,
    );
    expect(condition).toContain(
      `(!(ActionMatches{'${BLOBS}/read'} AND SubOperationMatches{'Blob.List'}))\n OR\n (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'mlflow' AND @Request[${BLOBS}:prefix] StringStartsWith 'inference-logs/model=iris/')`,
    );
  });

  it("takes a partitioned prefix only for the inference log's accesses, and refuses them without a role", () => {
    expectPropError(() => synth({ prefix: LOG }), "prefix", /blob name prefix/);
    expectPropError(
      () => synth({ access: "blob-create", prefix: LOG }),
      "roleDefinition",
      /custom role's name and scope \(access blob-create\)/,
    );
    expectPropError(() => synth({ access: "blob-read", prefix: LOG }), "roleDefinition", /access blob-read/);
  });
});
