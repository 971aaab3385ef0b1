import { App, TerraformStack, Testing } from "cdktf";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import type { EnvironmentConfig } from "../../../config";
import { authProxyPodLabels } from "../../../constructs/auth-proxy/oauth2-proxy-command";
import { TeamAccess, accessSyncJobName, type TeamAccessProps } from "../../../constructs/access";
import { accessPolicyOf, accessPolicyInputs, teamsEnabled } from "../../../constructs/access/from-config";
import { ACCESS_POLICY_ENV, ACCESS_POLICY_PATH, accessPolicy, accessPolicyHash, accessPolicyJson } from "../../../constructs/access/policy";
import { accessPolicyConfigMapName } from "../../../constructs/access/access-command";
import {
  ACCESS_MODULE,
  TRACKING_AUTH_APP_NAME,
  TRACKING_GUARD_APP_NAME,
  TRACKING_GUARD_DIR,
  trackingGuardFiles,
} from "../../../constructs/tracking-server/guard-command";
import {
  accessSyncCommand,
  backendStoreEnv,
  dbUpgradeCommand,
  gcCommand,
  trackingServerCommand,
} from "../../../constructs/tracking-server/mlflow-command";
import { TrackingServer, accessSyncPodLabels, mlflowCommandInputs, type TrackingServerProps } from "../../../constructs/tracking-server";
import { trackingInstance, trackingServerProps } from "../../../constructs/tracking-server/from-config";
import { PropError } from "../../../constructs/core/prop-error";
import type { ArtifactStoreContract, BackendStoreContract, TrackingIdentityContract } from "../../../constructs/core/contracts";
import { renderProcess } from "../../../constructs/core/render";
import { envConfig, everyOptionConfig, onlyResource, resourcesOf, synthJson, type TfJson } from "../../helpers/synth";
import { mlflowCliParse } from "../../helpers/mlflow-cli";
import { allRules } from "../../../policies";

const artifactStore: ArtifactStoreContract = {
  bucketName: "mlflow-artifacts",
  bucketArn: "arn:aws:s3:::mlflow-artifacts",
  destinationUri: "s3://mlflow-artifacts/mlartifacts",
  kmsKeyArn: "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000",
};
const backendStore: BackendStoreContract = {
  host: "db.example.internal",
  port: 5432,
  database: "mlflow",
  credentials: { secretName: "mlflow-db", usernameKey: "username", passwordKey: "password" },
};
const identity: TrackingIdentityContract = {
  serviceAccountName: "mlflow",
  roleArn: "arn:aws:iam::111111111111:role/x",
  serviceAccountAnnotations: {},
};

const TEAMS = {
  teams: [
    { name: "team-a", groups: ["team-a-ds"], approversGroup: "team-a-approvers" },
    { name: "team-b", groups: ["team-b-ds"] },
  ],
  access: { platformAdminsGroup: "platform-admins", releaseIdentities: ["system:serviceaccount:ci:release"] },
};
const dev = envConfig("dev");
const devTeams = envConfig("dev", TEAMS);

const props = (config: EnvironmentConfig, over: Partial<TrackingServerProps> = {}): TrackingServerProps => ({
  ...trackingServerProps(config, { artifactStore, backendStore, identity, authProxyPodLabels: authProxyPodLabels(config.project) }),
  ...over,
});
const inputsOf = (config: EnvironmentConfig) => mlflowCommandInputs(props(config));
const synth = (config: EnvironmentConfig, over: Partial<TrackingServerProps> = {}): TfJson => {
  const stack = new TerraformStack(Testing.app(), "test");
  new KubernetesProvider(stack, "kubernetes", {});
  new TrackingServer(stack, "tracking-server", props(config, over));
  return JSON.parse(Testing.synth(stack)) as TfJson;
};
const valueOf = (cmd: { env: readonly { name: string }[] }, name: string) =>
  (cmd.env.find((e) => e.name === name) as { value?: string } | undefined)?.value;
const podSpec = (r: Record<string, any>) => r.spec.template.spec;
const jobs = (json: TfJson) => resourcesOf(json, "kubernetes_job_v1");
const syncJobOf = (json: TfJson) => {
  const found = Object.entries(jobs(json)).filter(([id]) => id.includes("access_sync"));
  expect(found).toHaveLength(1);
  return { address: `kubernetes_job_v1.${found[0][0]}`, job: found[0][1] };
};

describe("teams in the environment's mapping", () => {
  it("are off without teams: no policy, no access settings in the commands", () => {
    expect(teamsEnabled(dev)).toBe(false);
    expect(accessPolicyOf(dev)).toBeUndefined();
    expect(props(dev).access).toBeUndefined();
    expect(inputsOf(dev).access).toBeUndefined();
  });

  it("map teams and access onto the policy, the default workspace defaulting to auth.allowedGroups with EDIT", () => {
    const withGroups = envConfig("dev", {
      ...TEAMS,
      auth: { allowedGroups: ["team-a-ds", "team-a-approvers", "team-b-ds", "platform-admins"] },
    });
    expect(accessPolicyInputs(withGroups)?.defaultWorkspace).toEqual({
      groups: ["team-a-ds", "team-a-approvers", "team-b-ds", "platform-admins"],
      permission: "EDIT",
    });
    const p = accessPolicyOf(devTeams)!;
    expect(p.admins.groups).toEqual(["platform-admins"]);
    expect(p.workspaces.map((w) => w.name)).toEqual(["team-a", "team-b"]);
    expect(p.protected.releaseIdentities).toEqual(["system:serviceaccount:ci:release"]);
    // An empty allow-list (domains decide): nobody is named for the default workspace, so it gets no role.
    expect(p.roles.map((r) => r.name)).toEqual(["platform.team-a.members", "platform.team-a.approvers", "platform.team-b.members"]);
    expect(props(devTeams).access).toEqual(p);
  });
});

describe("the MLflow commands with teams", () => {
  const withTeams = inputsOf(devTeams);
  const without = inputsOf(dev);

  it("run MLflow's auth app with workspaces inside the guard, reading the mounted policy", () => {
    const cmd = trackingServerCommand(withTeams);
    expect(cmd.args[cmd.args.indexOf("--app-name") + 1]).toBe(TRACKING_AUTH_APP_NAME);
    expect(valueOf(cmd, "MLFLOW_ENABLE_WORKSPACES")).toBe("true");
    expect(valueOf(cmd, "MLFLOW_BASIC_AUTH_FAIL_CLOSED")).toBe("true");
    expect(valueOf(cmd, ACCESS_POLICY_ENV)).toBe(ACCESS_POLICY_PATH);
    expect(cmd.files).toEqual(
      expect.arrayContaining([
        { path: ACCESS_POLICY_PATH, configMapKeyRef: { name: accessPolicyConfigMapName("mlflow-tracking"), key: "policy.json" } },
        { path: `${TRACKING_GUARD_DIR}/${ACCESS_MODULE}.py`, configMapKeyRef: { name: "mlflow-tracking-guard", key: "access-module" } },
      ]),
    );
  });

  it("are unchanged without teams: the guard's app, no workspaces, no policy", () => {
    const cmd = trackingServerCommand(without);
    expect(cmd.args[cmd.args.indexOf("--app-name") + 1]).toBe(TRACKING_GUARD_APP_NAME);
    for (const name of ["MLFLOW_ENABLE_WORKSPACES", "MLFLOW_BASIC_AUTH_FAIL_CLOSED", ACCESS_POLICY_ENV])
      expect(valueOf(cmd, name)).toBeUndefined();
    expect(cmd.files?.map((f) => f.path)).not.toContain(ACCESS_POLICY_PATH);
    expect(gcCommand(without).args).not.toContain("--all-workspaces");
  });

  it("refuse teams without the guard (platform-auth is an app of the guard's)", () => {
    expect(() => trackingServerCommand({ ...withTeams, guard: undefined })).toThrow(PropError);
    expect(() => trackingServerCommand({ ...withTeams, guard: undefined })).toThrow(/access is .*: expected the guard too/);
  });

  it("collect garbage in every workspace (without one, gc would clean the default workspace only)", () => {
    const gc = gcCommand(withTeams);
    expect(gc.args).toContain("--all-workspaces");
    expect(valueOf(gc, "MLFLOW_ENABLE_WORKSPACES")).toBe("true");
  });

  it("sync the policy with python -m mlflow_platform_access in the MLflow image, with the migration Job's backend store environment", () => {
    const sync = accessSyncCommand(withTeams);
    const upgrade = dbUpgradeCommand(withTeams);
    expect(sync.image).toBe(upgrade.image);
    expect([...sync.command, ...sync.args]).toEqual(["python", "-m", "mlflow_platform_access", "sync", "--policy", ACCESS_POLICY_PATH]);
    // The backend store environment exactly as the migration Job gets it, in the same order.
    expect(sync.env.filter((e) => backendStoreEnv(backendStore).some((b) => b.name === e.name))).toEqual(backendStoreEnv(backendStore));
    expect(upgrade.env.every((e) => sync.env.some((s) => JSON.stringify(s) === JSON.stringify(e)))).toBe(true);
    expect(valueOf(sync, "PYTHONPATH")).toBe(TRACKING_GUARD_DIR);
    expect(valueOf(sync, ACCESS_POLICY_ENV)).toBe(ACCESS_POLICY_PATH);
    expect(sync.files?.map((f) => f.path)).toEqual(
      expect.arrayContaining([
        ACCESS_POLICY_PATH,
        `${TRACKING_GUARD_DIR}/${ACCESS_MODULE}.py`,
        `${TRACKING_GUARD_DIR}/mlflow_platform_guard.py`,
      ]),
    );
    // Nothing to sync without teams, and no module without the guard's ConfigMap.
    expect(() => accessSyncCommand(without)).toThrow(/access is unset/);
    expect(() => accessSyncCommand({ ...withTeams, guard: undefined })).toThrow(/guard is unset/);
  });

  it("ship the access module and declare platform-auth in the guard's files only with teams", () => {
    const plain = trackingGuardFiles();
    const access = trackingGuardFiles({ access: true });
    expect(plain.map((f) => f.key)).not.toContain("access-module");
    expect(plain.find((f) => f.key === "entry-points")?.content).not.toContain(TRACKING_AUTH_APP_NAME);
    expect(access.find((f) => f.key === "access-module")?.path).toBe(`${ACCESS_MODULE}.py`);
    expect(access.find((f) => f.key === "entry-points")?.content).toContain(
      `${TRACKING_AUTH_APP_NAME} = mlflow_platform_access:create_app\n`,
    );
  });

  it("are parsed by the pinned MLflow's CLI: platform-auth is an app it finds, gc takes --all-workspaces", async () => {
    const resolve = () => "x";
    const [s, g] = await mlflowCliParse([
      { process: renderProcess(trackingServerCommand(withTeams), resolve) },
      { process: renderProcess(gcCommand(withTeams), resolve) },
    ]);
    expect(s.error).toBeUndefined();
    expect(s.params).toMatchObject({ app_name: TRACKING_AUTH_APP_NAME });
    expect(g.error).toBeUndefined();
    expect(g.params).toMatchObject({ all_workspaces: true });
  }, 120_000);
});

describe("TrackingServer with teams", () => {
  const json = synth(devTeams);
  const sync = syncJobOf(json);
  const deployment = onlyResource(json, "kubernetes_deployment_v1");
  const migration = Object.entries(jobs(json)).find(([id]) => id.includes("db-upgrade"))!;

  it("writes the policy document into its ConfigMap", () => {
    const cm = Object.values(resourcesOf(json, "kubernetes_config_map_v1")).find(
      (c: any) => c.metadata.name === accessPolicyConfigMapName("mlflow-tracking"),
    ) as any;
    expect(cm.data["policy.json"]).toBe(accessPolicyJson(accessPolicyOf(devTeams)!));
  });

  it("runs the sync Job after the migration Job and before the Deployment rolls, waiting for it", () => {
    expect(sync.job.wait_for_completion).toBe(true);
    expect(sync.job.depends_on).toContain(`kubernetes_job_v1.${migration[0]}`);
    expect(deployment.depends_on).toContain(sync.address);
    expect(sync.job.metadata.name).toMatch(/^mlflow-tracking-access-sync-[0-9a-f]{10}$/);
  });

  it("runs the synthesized container as accessSyncCommand builds it, with the module and the policy mounted", () => {
    const c = podSpec(sync.job).container[0];
    const cmd = accessSyncCommand(inputsOf(devTeams));
    expect([...c.command, ...c.args]).toEqual([...cmd.command, ...cmd.args]);
    expect(c.env.map((e: any) => e.name)).toEqual(cmd.env.map((e) => e.name));
    const mounts = Object.fromEntries(c.volume_mount.map((m: any) => [m.name, m.mount_path]));
    const volumes = Object.fromEntries(podSpec(sync.job).volume.map((v: any) => [v.name, v]));
    for (const f of cmd.files ?? []) {
      const [name, dir] = Object.entries(mounts).find(([, p]) => f.path.startsWith(`${p}/`))!;
      expect(volumes[name].config_map.name).toBe(f.configMapKeyRef!.name);
      expect(volumes[name].config_map.items).toContainEqual({ key: f.configMapKeyRef!.key, path: f.path.slice(dir.length + 1) });
    }
    expect(podSpec(sync.job).service_account_name).toBe(identity.serviceAccountName);
    expect(sync.job.spec.template.metadata.labels).toMatchObject(accessSyncPodLabels(trackingInstance(devTeams)));
  });

  it("mounts the policy into the server and rolls it when the policy changes", () => {
    const spec = podSpec(deployment);
    expect(spec.container[0].volume_mount).toContainEqual({
      name: "access-policy",
      mount_path: "/opt/mlflow-platform/access",
      read_only: true,
    });
    expect(deployment.spec.template.metadata.annotations["mlflow-platform/access-policy-sha256"]).toBe(
      accessPolicyHash(accessPolicyOf(devTeams)!),
    );
  });

  it("runs a new sync Job when the policy changes (removing a group revokes it at the next deploy)", () => {
    const revoked = envConfig("dev", { ...TEAMS, teams: [{ ...TEAMS.teams[0], groups: ["team-a-other"] }, TEAMS.teams[1]] });
    expect(syncJobOf(synth(revoked)).job.metadata.name).not.toBe(sync.job.metadata.name);
    // ...and the same one when nothing changed (Terraform finds it complete).
    expect(syncJobOf(synth(devTeams)).job.metadata.name).toBe(sync.job.metadata.name);
  });

  it("creates none of it without teams", () => {
    const plain = synth(dev);
    expect(Object.keys(jobs(plain)).filter((id) => id.includes("access"))).toEqual([]);
    expect(JSON.stringify(plain)).not.toContain("access-policy");
  });

  it("refuses teams with its NetworkPolicy off: the guard trusts callers on the in-cluster names", () => {
    const build = () => new TrackingServer(new TerraformStack(new App(), "t"), "ts", props(devTeams, { networkPolicy: false }));
    expect(build).toThrow(PropError);
    expect(build).toThrow(/networkPolicy is false: expected true with access \(teams\)/);
    expect(() => new TrackingServer(new TerraformStack(new App(), "t"), "ts", props(dev, { networkPolicy: false }))).not.toThrow();
  });
});

describe("TeamAccess refuses bad props, naming them", () => {
  const policy = accessPolicy({
    teams: [{ name: "team-a", groups: ["team-a-ds"] }],
    platformAdminsGroup: "admins",
    defaultWorkspace: { groups: [], permission: "EDIT" },
  });
  const base: TeamAccessProps = {
    name: "mlflow-tracking",
    namespace: "mlflow",
    policy,
    image: "ghcr.io/mlflow/mlflow:v3.17.2-full",
    backendStore,
    guardConfigMapName: "mlflow-tracking-guard",
    serviceAccountName: "mlflow",
    podLabels: { "app.kubernetes.io/component": "access-sync" },
  };
  const build = (over: Partial<TeamAccessProps>) => () =>
    new TeamAccess(new TerraformStack(new App(), "t"), "access", { ...base, ...over });

  it.each<[Partial<TeamAccessProps>, RegExp]>([
    [{ name: "Mlflow" }, /name is "Mlflow": expected a DNS label/],
    [{ name: "x".repeat(41) }, /name is "x+": expected at most 40 characters/],
    [{ namespace: "kube system" }, /namespace is "kube system"/],
    [{ policy: { ...policy, workspaces: [] } }, /policy is \[\]: expected a policy with at least one team's workspace/],
    [{ policy: { ...policy, admins: { groups: ["${var.x}"] } } }, /policy is .*: expected groups and identities without "\$\{" or "%\{"/],
    [{ podLabels: {} }, /podLabels is \{\}: expected the labels of the sync Job's pods/],
    [{ runAsUser: 0 }, /runAsUser is 0/],
    [{ timeoutMinutes: 0 }, /timeoutMinutes is 0/],
  ])("%j", (over, message) => {
    expect(build(over)).toThrow(PropError);
    expect(build(over)).toThrow(message);
  });

  it("names the Job after the policy, the image and the module", () => {
    const name = accessSyncJobName(base);
    expect(accessSyncJobName({ ...base, image: "ghcr.io/mlflow/mlflow:v3.18.0-full" })).not.toBe(name);
    expect(accessSyncJobName({ ...base, policy: { ...policy, admins: { groups: ["other"] } } })).not.toBe(name);
    expect(name.length).toBeLessThanOrEqual(63);
  });
});

describe("the every-option stack with teams", () => {
  const config = everyOptionConfig();
  const json = synthJson(config);

  it("has teams, and the sync Job's pods reach the database through the NetworkPolicies", () => {
    expect(teamsEnabled(config)).toBe(true);
    syncJobOf(json);
    const egress = Object.values(resourcesOf(json, "kubernetes_network_policy_v1")).find(
      (p: any) => p.metadata.name === "access-sync-egress",
    ) as any;
    expect(egress.spec.pod_selector.match_labels).toEqual(accessSyncPodLabels(trackingInstance(config)));
    expect(JSON.stringify(egress.spec.egress)).toContain('"5432"');
  });

  it("passes every synth-time policy: the access module shipped in the guard's ConfigMap holds nothing read as a secret", () => {
    expect(allRules().flatMap((rule) => rule.check(json).map((f) => `[${rule.id}] ${f.message}`))).toEqual([]);
  });
});
