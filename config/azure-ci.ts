/**
 * The `ci` section of an Azure environment: the GitHub repository whose workflows may act on the environment's
 * resource group through GitHub's OIDC token, exchanged by Microsoft Entra ID for a user-assigned managed
 * identity's token (federated identity credentials; no client secret anywhere; docs/azure.md#ci).
 *
 * The identities' names are derived here, once: constructs/azure-ci-identities creates them with these names and
 * scripts/ci/environments.ts prints the login inputs into the workflows' matrix. An identity's client id is a GUID
 * Azure assigns when it creates the identity, so it cannot be derived: the bootstrap prints both, and they are
 * written here (ci.planClientId, ci.deployClientId) before the pipelines can log in.
 */
import { z } from "zod";
import { azureGuidProblem, managedIdentityNameProblem } from "../constructs/core/azure-limits";
import { ciSchema } from "./ci";

const optionalName = z
  .string()
  .superRefine((v, ctx) => {
    const p = managedIdentityNameProblem(v);
    if (p) ctx.addIssue({ code: "custom", message: p });
  })
  .optional();

const clientId = (which: string) =>
  z
    .string()
    .superRefine((v, ctx) => {
      // A client id is a GUID like a tenant's: the same check, its own words.
      if (azureGuidProblem(v, "tenant"))
        ctx.addIssue({
          code: "custom",
          message: `the ${which} identity's client id, a GUID (npm run bootstrap prints it; az identity show --query clientId)`,
        });
    })
    .optional();

export const azureCiSchema = z
  .object({
    repository: ciSchema.shape.repository.describe(
      "The GitHub repository (\"owner/name\") whose workflows may act as this environment's CI identities: their federated credentials trust no other repository's tokens.",
    ),
    deployEnvironment: ciSchema.shape.deployEnvironment.describe(
      "The GitHub Environment whose jobs may act as the deploy identity (the OIDC subject `repo:<repository>:environment:<name>`). Defaults to the environment's name. Give it required reviewers in GitHub for every environment that must wait for an approval.",
    ),
    autoDeploy: ciSchema.shape.autoDeploy,
    planIdentityName: optionalName.describe(
      "Name of the read-only user-assigned identity pull-request plans and the drift check act as; defaults to `<project>-<env>-ci-plan`.",
    ),
    deployIdentityName: optionalName.describe(
      "Name of the user-assigned identity that applies a reviewed plan; defaults to `<project>-<env>-ci-deploy`.",
    ),
    planClientId: clientId("plan").describe(
      "Client id of the plan identity (azure/login's client-id), printed by `npm run bootstrap -- <env>`: Azure assigns it when it creates the identity. The pipelines refuse an environment without it.",
    ),
    deployClientId: clientId("deploy").describe(
      "Client id of the deploy identity, printed by `npm run bootstrap -- <env>`. The pipelines refuse an environment without it.",
    ),
  })
  .strict();

export type AzureCiConfig = z.output<typeof azureCiSchema>;

/** The part of an Azure environment's configuration the CI names are derived from. */
export interface AzureCiNaming {
  readonly name: string;
  readonly project: string;
  readonly production?: boolean;
  readonly ci?: AzureCiConfig;
}

/** The names of the two identities. */
export interface AzureCiNames {
  readonly planIdentityName: string;
  readonly deployIdentityName: string;
}

/** Names from configuration, or derived from project and environment name. */
export function azureCiNames(env: AzureCiNaming): AzureCiNames {
  const stack = `${env.project}-${env.name}`;
  return {
    planIdentityName: env.ci?.planIdentityName ?? `${stack}-ci-plan`,
    deployIdentityName: env.ci?.deployIdentityName ?? `${stack}-ci-deploy`,
  };
}

/** The GitHub Environment the deploy jobs of this environment run in. */
export function azureDeployEnvironmentOf(env: AzureCiNaming): string {
  return env.ci?.deployEnvironment ?? env.name;
}

/**
 * The exact GitHub OIDC subjects each identity's federated credentials accept (Entra ID matches the subject
 * exactly, no wildcard): pull requests and the main branch (the deploy workflow's plan job, the drift check) for
 * plan, the GitHub Environment for deploy.
 */
export function azureCiSubjects(repository: string, deployEnvironment: string, mainBranch = "main"): { plan: string[]; deploy: string[] } {
  return {
    plan: [`repo:${repository}:pull_request`, `repo:${repository}:ref:refs/heads/${mainBranch}`],
    deploy: [`repo:${repository}:environment:${deployEnvironment}`],
  };
}

/** Cross-field problems of an Azure environment's `ci` section (path from the environment, message "expected ..."). */
export function azureCiProblems(env: AzureCiNaming): { path: (string | number)[]; message: string }[] {
  const ci = env.ci;
  if (!ci) return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  if (env.production && ci.autoDeploy)
    out.push({
      path: ["ci", "autoDeploy"],
      message: "false in a production environment: its deploy waits for a reviewer of the GitHub Environment",
    });
  const n = azureCiNames(env);
  for (const field of ["planIdentityName", "deployIdentityName"] as const) {
    const p = ci[field] === undefined ? managedIdentityNameProblem(n[field]) : undefined;
    if (p) out.push({ path: ["ci", field], message: `${p}: the name derived from project and name is not one; set ci.${field}` });
  }
  if (n.planIdentityName.toLowerCase() === n.deployIdentityName.toLowerCase())
    out.push({ path: ["ci", "deployIdentityName"], message: `another name than ci.planIdentityName ("${n.planIdentityName}")` });
  if (ci.planClientId !== undefined && ci.planClientId.toLowerCase() === ci.deployClientId?.toLowerCase())
    out.push({ path: ["ci", "deployClientId"], message: "the deploy identity's own client id, not the plan identity's" });
  return out;
}
