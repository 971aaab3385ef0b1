#!/usr/bin/env bash
# After azure/login in a job of an Azure environment: how Terraform signs in there, appended to $GITHUB_ENV.
#   bash scripts/ci/azure-terraform-env.sh          (CLIENT_ID, TENANT_ID, SUBSCRIPTION_ID from the matrix row)
# - the azurerm provider and backend use GitHub's OIDC token themselves (ARM_USE_OIDC: the job's id-token
#   permission; they ask for a fresh token when they need one), as the identity azure/login signed in as;
# - the kubernetes and helm providers take a Microsoft Entra ID token for AKS as the sensitive variable
#   aks_access_token (stacks/azure-stack.ts), got with the same identity through the Azure CLI and masked
#   in the log. With ci the variable is ephemeral: the apply job gives its own (the deploy identity's).
set -euo pipefail
: "${CLIENT_ID:?CLIENT_ID, the client id of the identity (matrix planClientId or deployClientId)}"
: "${TENANT_ID:?TENANT_ID, tenantId of the matrix row}"
: "${SUBSCRIPTION_ID:?SUBSCRIPTION_ID, subscriptionId of the matrix row}"
: "${GITHUB_ENV:?GITHUB_ENV, set by GitHub Actions}"
# The application id of "Azure Kubernetes Service AAD Server": the audience of tokens for AKS (stacks/azure-stack.ts).
AKS_SERVER_APP_ID=6dae42f8-4368-4678-94ff-3960e28e3630
token=$(az account get-access-token --resource "$AKS_SERVER_APP_ID" --query accessToken -o tsv)
[ -n "$token" ] || { echo "azure-terraform-env: no Entra ID token for AKS (is azure/login the step before?)" >&2; exit 1; }
echo "::add-mask::$token"
{
  echo "ARM_USE_OIDC=true"
  echo "ARM_CLIENT_ID=$CLIENT_ID"
  echo "ARM_TENANT_ID=$TENANT_ID"
  echo "ARM_SUBSCRIPTION_ID=$SUBSCRIPTION_ID"
  echo "TF_VAR_aks_access_token=$token"
} >>"$GITHUB_ENV"
