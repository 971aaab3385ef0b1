/**
 * The access policy document: the one contract between synthesis and the runtime. The tracking server's
 * authorization function (runtime/src/mlflow_platform_access.py `authenticate`), its guard's protected
 * promotions (runtime/src/mlflow_platform_guard.py) and the sync Job (`python -m mlflow_platform_access sync`)
 * all read it from {@link ACCESS_POLICY_PATH}, whose path reaches them in {@link ACCESS_POLICY_ENV}.
 *
 * Pure: narrow inputs in, a JSON document out; no configuration and no cdktf. docs/access.md explains the
 * model it encodes.
 */
import { createHash } from "crypto";
import { PropError } from "../core/prop-error";
import { DNS_LABEL } from "../core/names";
import { type AccessPermission, DEFAULT_PROTECTED_ALIASES, DEFAULT_WORKSPACE, MLFLOW_PERMISSIONS } from "../core/mlflow-access";

export { type AccessPermission, DEFAULT_PROTECTED_ALIASES, DEFAULT_WORKSPACE };
const PERMISSIONS: readonly AccessPermission[] = MLFLOW_PERMISSIONS;

/** Version of the document's format; the runtime refuses a version it does not know. */
export const ACCESS_POLICY_VERSION = 1;
/** Where the policy is mounted in every process that reads it. */
export const ACCESS_POLICY_DIR = "/opt/mlflow-platform/access";
export const ACCESS_POLICY_FILE = "policy.json";
export const ACCESS_POLICY_PATH = `${ACCESS_POLICY_DIR}/${ACCESS_POLICY_FILE}`;
/** The environment variable naming the policy's path. */
export const ACCESS_POLICY_ENV = "MLFLOW_PLATFORM_ACCESS_POLICY";
/** Every role the platform manages starts with this: the sync deletes those the policy no longer names, and no other. */
export const PLATFORM_ROLE_PREFIX = "platform.";
/** The registry stages protected like the protected aliases (MLflow has no other promotion stages). */
export const PROTECTED_STAGES = ["Production", "Staging"] as const;
/** Permission of a team's approvers in its workspace: MLflow requires EDIT to set a model version's tag. */
export const APPROVERS_PERMISSION: AccessPermission = "EDIT";
/** What a workload needs at least: EDIT logs runs, registers models and tags versions. */
export const WORKLOAD_MIN_PERMISSION: AccessPermission = "EDIT";
/** The role (in every workspace they release from) of the release identities: `platform.<team>.release`. */
export const RELEASE_ROLE = "release";

/** One team, as the policy needs it. */
export interface AccessTeam {
  /** A DNS label; names the roles `platform.<name>.members` and `platform.<name>.approvers`. */
  readonly name: string;
  /** The identity provider groups of its members (at least one). */
  readonly groups: readonly string[];
  /** Its workspace. @default name */
  readonly workspace?: string;
  /** The members' permission in the workspace. @default "EDIT" */
  readonly defaultPermission?: AccessPermission;
  /** The group that approves promotions in the workspace. @default none */
  readonly approversGroup?: string;
}

/**
 * An in-cluster workload (the training pipeline) that works in one team's workspace. Its projected token has
 * no groups: it gets the role `platform.<team>.<name>` through its identity alone, in that workspace only.
 */
export interface AccessWorkload {
  /** A DNS label naming its role (`platform.<team>.<name>`), e.g. "pipeline". */
  readonly name: string;
  /** Its identity as the proxy forwards it (a token subject such as `system:serviceaccount:ml:training-pipeline`). */
  readonly identity: string;
  /** The team (by name) whose workspace it works in. */
  readonly team: string;
}

/** What {@link accessPolicy} builds the document from. */
export interface AccessPolicyInputs {
  /** The teams (at least one), each with its own workspace and `platform.<team>.*` roles. */
  readonly teams: readonly AccessTeam[];
  /** The MLflow administrators' group. */
  readonly platformAdminsGroup: string;
  /** Identities that may move protected aliases and stages and write the gates' tags. @default [] */
  readonly releaseIdentities?: readonly string[];
  /** Approvers must not be members, nor approve what they registered. @default true */
  readonly fourEyes?: boolean;
  /** Who uses the `default` workspace, and how. No role when `groups` is empty (only administrators see it then). */
  readonly defaultWorkspace: { readonly groups: readonly string[]; readonly permission: AccessPermission };
  /** Aliases only release identities may set or delete. @default ["production", "staging"] */
  readonly protectedAliases?: readonly string[];
  /** Workloads that work in a team's workspace by their identity. @default [] */
  readonly workloads?: readonly AccessWorkload[];
}

export interface AccessPolicyRole {
  readonly name: string;
  readonly workspace: string;
  readonly permission: AccessPermission;
  /** Members by group: a caller with one of them has the role. */
  readonly groups: string[];
  /** Members by identity (exact, lower-cased): for workloads, whose tokens carry no groups. */
  readonly identities: string[];
}

/** The document (version 1), as the runtime reads it. */
export interface AccessPolicy {
  readonly version: typeof ACCESS_POLICY_VERSION;
  readonly admins: { readonly groups: string[] };
  readonly workspaces: { readonly name: string; readonly description: string }[];
  readonly roles: AccessPolicyRole[];
  readonly protected: {
    readonly aliases: string[];
    readonly stages: string[];
    readonly releaseIdentities: string[];
    readonly approvers: Record<string, string[]>;
    readonly fourEyes: boolean;
  };
}

const groupProblem = (g: string) =>
  g.length === 0 ? "is empty" : g.includes(",") ? 'contains "," (the proxy joins groups with commas)' : undefined;

/**
 * The policy document of these teams. Refuses (PropError, naming the input) what the configuration schema
 * refuses too (config/teams.ts), so a caller that skips it cannot produce a document the runtime misreads.
 */
export function accessPolicy(inputs: AccessPolicyInputs): AccessPolicy {
  const where = "accessPolicy";
  const fourEyes = inputs.fourEyes ?? true;
  if (inputs.teams.length === 0) throw new PropError(where, "teams", inputs.teams, "at least one team (without teams, build no policy)");
  const checkGroup = (field: string, g: string) => {
    const p = groupProblem(g);
    if (p) throw new PropError(where, field, g, `an identity provider group name; it ${p}`);
  };
  checkGroup("platformAdminsGroup", inputs.platformAdminsGroup);
  inputs.defaultWorkspace.groups.forEach((g, j) => checkGroup(`defaultWorkspace.groups[${j}]`, g));
  if (!PERMISSIONS.includes(inputs.defaultWorkspace.permission))
    throw new PropError(where, "defaultWorkspace.permission", inputs.defaultWorkspace.permission, PERMISSIONS.join(", "));

  const names = new Set<string>();
  const workspaces = new Set<string>();
  const roles: AccessPolicyRole[] = [];
  const approvers: Record<string, string[]> = {};
  for (const [i, team] of inputs.teams.entries()) {
    const workspace = team.workspace ?? team.name;
    const permission = team.defaultPermission ?? "EDIT";
    if (!DNS_LABEL.test(team.name) || team.name === DEFAULT_WORKSPACE)
      throw new PropError(where, `teams[${i}].name`, team.name, `a DNS label other than "${DEFAULT_WORKSPACE}"`);
    if (names.has(team.name)) throw new PropError(where, `teams[${i}].name`, team.name, "a name no other team has");
    if (!DNS_LABEL.test(workspace) || workspace === DEFAULT_WORKSPACE)
      throw new PropError(where, `teams[${i}].workspace`, workspace, `a DNS label other than "${DEFAULT_WORKSPACE}"`);
    if (workspaces.has(workspace)) throw new PropError(where, `teams[${i}].workspace`, workspace, "a workspace no other team works in");
    if (team.groups.length === 0) throw new PropError(where, `teams[${i}].groups`, team.groups, "at least one group");
    team.groups.forEach((g, j) => checkGroup(`teams[${i}].groups[${j}]`, g));
    if (!PERMISSIONS.includes(permission)) throw new PropError(where, `teams[${i}].defaultPermission`, permission, PERMISSIONS.join(", "));
    names.add(team.name);
    workspaces.add(workspace);
    roles.push({
      name: `${PLATFORM_ROLE_PREFIX}${team.name}.members`,
      workspace,
      permission,
      groups: [...team.groups],
      identities: [],
    });
    if (team.approversGroup !== undefined) {
      checkGroup(`teams[${i}].approversGroup`, team.approversGroup);
      if (fourEyes && team.groups.includes(team.approversGroup))
        throw new PropError(
          where,
          `teams[${i}].approversGroup`,
          team.approversGroup,
          "a group that is not one of the team's groups (four eyes)",
        );
      roles.push({
        name: `${PLATFORM_ROLE_PREFIX}${team.name}.approvers`,
        workspace,
        permission: APPROVERS_PERMISSION,
        groups: [team.approversGroup],
        identities: [],
      });
      approvers[workspace] = [team.approversGroup];
    }
  }
  if (inputs.defaultWorkspace.groups.length > 0) {
    roles.push({
      name: `${PLATFORM_ROLE_PREFIX}${DEFAULT_WORKSPACE}.members`,
      workspace: DEFAULT_WORKSPACE,
      permission: inputs.defaultWorkspace.permission,
      groups: [...inputs.defaultWorkspace.groups],
      identities: [],
    });
  }
  for (const [i, w] of (inputs.workloads ?? []).entries()) {
    const team = inputs.teams.find((t) => t.name === w.team);
    if (!team)
      throw new PropError(where, `workloads[${i}].team`, w.team, `one of the teams (${inputs.teams.map((t) => t.name).join(", ")})`);
    if (!DNS_LABEL.test(w.name) || ["members", "approvers", RELEASE_ROLE].includes(w.name))
      throw new PropError(where, `workloads[${i}].name`, w.name, `a DNS label other than "members", "approvers" and "${RELEASE_ROLE}"`);
    if (!w.identity || /[\s,]/.test(w.identity))
      throw new PropError(where, `workloads[${i}].identity`, w.identity, 'an e-mail address or token subject without spaces or ","');
    const name = `${PLATFORM_ROLE_PREFIX}${team.name}.${w.name}`;
    if (roles.some((r) => r.name === name))
      throw new PropError(where, `workloads[${i}].name`, w.name, "a name no other workload of the team has");
    // What the workload needs (EDIT), or the team's own permission when that is higher: never more than the
    // team has except the floor it cannot work without, and nothing outside the team's workspace.
    const teamPermission = team.defaultPermission ?? "EDIT";
    const permission =
      PERMISSIONS.indexOf(teamPermission) > PERMISSIONS.indexOf(WORKLOAD_MIN_PERMISSION) ? teamPermission : WORKLOAD_MIN_PERMISSION;
    roles.push({ name, workspace: team.workspace ?? team.name, permission, groups: [], identities: [w.identity.toLowerCase()] });
  }
  const releaseIdentities = [...(inputs.releaseIdentities ?? [])];
  releaseIdentities.forEach((r, j) => {
    if (!r || /[\s,]/.test(r))
      throw new PropError(where, `releaseIdentities[${j}]`, r, 'an e-mail address or token subject without spaces or ","');
  });
  // The protected-promotion rules let the release identities move aliases; MLflow itself still asks for EDIT on
  // the model, so they hold EDIT in every workspace they release from (the teams' and `default`), and no more.
  if (releaseIdentities.length > 0) {
    const identities = releaseIdentities.map((r) => r.toLowerCase());
    const releaseWorkspaces = [...inputs.teams.map((t) => [t.name, t.workspace ?? t.name]), [DEFAULT_WORKSPACE, DEFAULT_WORKSPACE]];
    for (const [owner, workspace] of releaseWorkspaces) {
      roles.push({ name: `${PLATFORM_ROLE_PREFIX}${owner}.${RELEASE_ROLE}`, workspace, permission: "EDIT", groups: [], identities });
    }
  }
  return {
    version: ACCESS_POLICY_VERSION,
    admins: { groups: [inputs.platformAdminsGroup] },
    workspaces: inputs.teams.map((t) => ({ name: t.workspace ?? t.name, description: `team ${t.name}` })),
    roles,
    protected: {
      aliases: [...(inputs.protectedAliases ?? DEFAULT_PROTECTED_ALIASES)],
      stages: [...PROTECTED_STAGES],
      releaseIdentities,
      approvers,
      fourEyes,
    },
  };
}

/** The document as the ConfigMap holds it (stable: the same inputs give the same bytes). */
export function accessPolicyJson(policy: AccessPolicy): string {
  return `${JSON.stringify(policy, null, 2)}\n`;
}

/** A short digest of the document: the sync Job's name carries it, so a changed policy runs a new Job. */
export function accessPolicyHash(policy: AccessPolicy): string {
  return createHash("sha256").update(accessPolicyJson(policy)).digest("hex").slice(0, 10);
}
