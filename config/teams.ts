/**
 * The `teams` and `access` sections: teams that share one platform, each in its own MLflow workspace, their
 * permissions taken from the identity provider's groups and enforced by MLflow's own auth app (workspaces,
 * roles), and the promotions only the release pipeline and the approvers may make (docs/access.md).
 *
 * Off unless an environment sets `teams`: without it nothing of this is synthesized. With it,
 * constructs/access/policy.ts turns these values into the policy document the tracking server and the sync
 * Job read.
 */
import { z } from "zod";
import { DEFAULT_PROTECTED_ALIASES, DEFAULT_WORKSPACE, MLFLOW_PERMISSIONS } from "../constructs/core/mlflow-access";
import { dnsLabel } from "./primitives";

export { DEFAULT_PROTECTED_ALIASES, DEFAULT_WORKSPACE, MLFLOW_PERMISSIONS };

const permission = z.enum(MLFLOW_PERMISSIONS, { error: `one of ${MLFLOW_PERMISSIONS.join(", ")}` });

/** The policy travels in a ConfigMap of cdk.tf.json, where Terraform would interpolate these. */
const noTemplate = (v: string) => !v.includes("${") && !v.includes("%{");
const TEMPLATE_ERROR = 'a name without "${" or "%{" (Terraform would read it as an interpolation)';

/**
 * An identity provider group. The proxy forwards a caller's groups joined with "," (X-Forwarded-Groups), so a
 * name containing one could never be told apart from two groups.
 */
const group = z
  .string()
  .min(1, { error: "a group name (from the identity provider's groups claim)" })
  .refine((g) => !g.includes(","), {
    error: 'a group name without ",": the proxy joins a caller\'s groups with commas, so the name would read as two groups',
  })
  .refine((g) => g.trim() === g, { error: "a group name without leading or trailing spaces (the guard trims each group it reads)" })
  .refine(noTemplate, { error: TEMPLATE_ERROR });

/** An identity as the proxy forwards it: a lower-case e-mail address, or a workload token's subject. */
const identity = z
  .string()
  .min(1)
  .refine((v) => !/[\s,]/.test(v), { error: 'an e-mail address or a token subject, without spaces or ","' })
  .refine((v) => !v.includes("@") || v === v.toLowerCase(), {
    error: "a lower-case e-mail address (the tracking server compares lower-cased addresses)",
  })
  .refine(noTemplate, { error: TEMPLATE_ERROR });

export const teamSchema = z
  .object({
    name: dnsLabel.describe(
      "The team's name, unique in the environment: it names its roles (`platform.<name>.members`, `platform.<name>.approvers`) and, by default, its workspace.",
    ),
    groups: z
      .array(group)
      .min(1, { error: "at least one group (a team without groups would have no members): the identity provider groups of its members" })
      .describe(
        "The identity provider groups of the team's members (the proxy's groups claim). Every member of one of them gets `defaultPermission` in the team's workspace.",
      ),
    workspace: dnsLabel
      .optional()
      .describe(
        "The team's MLflow workspace (experiments, models and artifacts scoped to it). Default: the team's name. One team per workspace.",
      ),
    defaultPermission: permission
      .default("EDIT")
      .describe("What the team's members may do in its workspace: READ, USE, EDIT (the default: log runs, register models) or MANAGE."),
    approversGroup: group
      .optional()
      .describe(
        "The identity provider group allowed to approve promotions (`platform.approval.*` tags) in the team's workspace; its members also get EDIT there. With access.fourEyes, it must not be one of the team's `groups`.",
      ),
  })
  .strict();

export const teamsSchema = z
  .array(teamSchema)
  .optional()
  .describe(
    "Teams sharing this platform, each in its own MLflow workspace, with permissions from the identity provider's groups (docs/access.md). Off when unset: every identity the proxy admits may do everything. Requires access.platformAdminsGroup.",
  );

export const accessSchema = z
  .object({
    platformAdminsGroup: group.describe(
      "The identity provider group whose members are MLflow administrators (every workspace, user and role). Required when teams are set.",
    ),
    releaseIdentities: z
      .array(identity)
      .default([])
      .describe(
        "The identities (lower-case e-mail, or a workload token's subject such as `system:serviceaccount:ci:release`, as the proxy forwards them) that may move the protected aliases and stages and write the gates' `platform.gate.*` tags: the release pipeline. They hold EDIT in every team's workspace and in `default` (roles `platform.<team>.release`).",
      ),
    fourEyes: z
      .boolean()
      .default(true)
      .describe(
        "Four-eyes rule: a team's approversGroup must not be one of its member groups, and nobody approves a model version they registered (enforced by the tracking server).",
      ),
    defaultWorkspace: z
      .object({
        groups: z.array(group).describe("The groups who may use the `default` workspace."),
        permission: permission.describe("What they may do there."),
      })
      .strict()
      .optional()
      .describe(
        "Who keeps using the `default` workspace, where a pre-existing installation's experiments and models land. Default: auth.allowedGroups with EDIT.",
      ),
    protectedAliases: z
      .array(z.string().regex(/^[A-Za-z0-9_-]+$/, { error: 'a model version alias such as "production"' }))
      .default([...DEFAULT_PROTECTED_ALIASES])
      .describe(
        "Registered-model aliases only the release identities may set or delete. The stages Production and Staging are protected alike.",
      ),
  })
  .strict()
  .optional()
  .describe("Administrators, release identities and protected promotions of the teams (read only when `teams` is set).");

export type TeamInput = z.input<typeof teamSchema>;
export type TeamConfig = z.output<typeof teamSchema>;
export type AccessConfig = NonNullable<z.output<typeof accessSchema>>;

/** The workspace a team works in: its own `workspace`, else its name. */
export function teamWorkspace(team: Pick<TeamConfig, "name" | "workspace">): string {
  return team.workspace ?? team.name;
}

/** What the cross-field checks read of an environment (an EnvironmentConfig is one). */
interface TeamsEnvironment {
  readonly teams?: readonly TeamConfig[];
  readonly access?: AccessConfig;
  readonly auth: { readonly allowedGroups: readonly string[] };
  readonly training?: { readonly enabled: boolean; readonly team?: string };
}

/**
 * The cross-field problems of `teams` and `access`, each with the path of the field to change and what it
 * should be (config/schema.ts reports them with the environment's name).
 */
export function teamsProblems(env: TeamsEnvironment): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const issue = (path: (string | number)[], message: string) => out.push({ path, message });
  const teams = env.teams ?? [];
  const trainingTeam = env.training?.team;
  if (teams.length === 0) {
    if (trainingTeam !== undefined)
      issue(
        ["training", "team"],
        `unset without teams ("${trainingTeam}" names no team: the pipeline logs to the default workspace, as everyone does without teams)`,
      );
    return out;
  }
  const access = env.access;
  if (!access) {
    issue(
      ["access", "platformAdminsGroup"],
      "the identity provider group of the platform's administrators when teams are set (access: { platformAdminsGroup: ... }): someone must be able to manage every workspace",
    );
  }

  const names = new Map<string, number>();
  const workspaces = new Map<string, number>();
  for (const [i, team] of teams.entries()) {
    const first = names.get(team.name);
    if (first !== undefined) issue(["teams", i, "name"], `a name no other team has (teams[${first}] is also "${team.name}")`);
    else names.set(team.name, i);
    // MLflow's own default workspace holds what existed before teams, and its role is platform.default.members.
    if (team.name === DEFAULT_WORKSPACE)
      issue(["teams", i, "name"], `a name other than "${DEFAULT_WORKSPACE}" (the role of the default workspace is named after it)`);
    const ws = teamWorkspace(team);
    const wsPath = team.workspace === undefined ? ["teams", i, "name"] : ["teams", i, "workspace"];
    if (ws === DEFAULT_WORKSPACE) {
      issue(
        ["teams", i, "workspace"],
        `a workspace other than "${DEFAULT_WORKSPACE}", which holds what existed before teams (its users: access.defaultWorkspace)`,
      );
    } else {
      const other = workspaces.get(ws);
      if (other !== undefined)
        issue(
          wsPath,
          `a workspace of its own: two teams on one workspace (teams[${other}] already works in "${ws}"); set teams[${i}].workspace to another name`,
        );
      else workspaces.set(ws, i);
    }
    if ((access?.fourEyes ?? true) && team.approversGroup !== undefined && team.groups.includes(team.approversGroup)) {
      issue(
        ["teams", i, "approversGroup"],
        `a group that is not one of the team's own groups (${team.groups.join(", ")}) while access.fourEyes is on: members would approve their own promotions; name a separate approvers group, or set access.fourEyes: false`,
      );
    }
  }

  // With teams, the pipeline's workload identity has no groups: it gets a role only through the team it is
  // configured for, in that team's workspace and no other.
  const known = teams.map((t) => `"${t.name}"`).join(", ");
  if (trainingTeam !== undefined && !names.has(trainingTeam))
    issue(["training", "team"], `the name of a team (one of ${known}), not "${trainingTeam}"`);
  else if (trainingTeam === undefined && env.training?.enabled)
    issue(
      ["training", "team"],
      `the team whose workspace the training pipeline logs to and registers in (one of ${known}) when teams are set: its workload identity has no groups, so without a team it would have no access`,
    );

  // The proxy admits only auth.allowedGroups (when set): a group outside it could never reach MLflow.
  const allowed = env.auth.allowedGroups;
  if (allowed.length > 0) {
    const admitted = (path: (string | number)[], g: string) => {
      if (!allowed.includes(g))
        issue(path, `a group the proxy admits: "${g}" is not in auth.allowedGroups (${allowed.join(", ")}); add it there or name another`);
    };
    for (const [i, team] of teams.entries()) {
      team.groups.forEach((g, j) => admitted(["teams", i, "groups", j], g));
      if (team.approversGroup !== undefined) admitted(["teams", i, "approversGroup"], team.approversGroup);
    }
    if (access) {
      admitted(["access", "platformAdminsGroup"], access.platformAdminsGroup);
      access.defaultWorkspace?.groups.forEach((g, j) => admitted(["access", "defaultWorkspace", "groups", j], g));
    }
  }
  return out;
}
