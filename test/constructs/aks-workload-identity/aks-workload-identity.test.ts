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
