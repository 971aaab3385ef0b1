/**
 * Teams on GKE and AKS, as on AWS: the access policy in its ConfigMap, the sync Job before the tracking server
 * rolls, MLflow's auth app with workspaces, and the sync Job's pods let through to the database by the default-deny
 * network policies. Nothing of it without teams.
 */
import { accessPolicyJson } from "../../constructs/access/policy";
import { accessPolicyOf } from "../../constructs/access/from-config";
import { accessPolicyConfigMapName } from "../../constructs/access/access-command";
import { accessSyncPodLabels } from "../../constructs/tracking-server";
import { trackingInstance } from "../../constructs/tracking-server/from-config";
import { allRules } from "../../policies";
import { azureConfig, synthAzure } from "../helpers/azure";
import { gcpConfig, synthGcp } from "../helpers/gcp";
import { resourcesOf, type TfJson } from "../helpers/synth";

/** The tracking server's Deployment (the same name on every cloud). */
const TRACKING_SERVER = "mlflow-tracking";

const withTeams = {
  teams: [
    { name: "fraud", groups: ["fraud-ds"], approversGroup: "fraud-leads" },
    { name: "search", groups: ["search-ds"] },
  ],
  access: { platformAdminsGroup: "ml-platform-admins" },
  // The fixtures train: with teams, the pipeline names the team whose workspace it works in.
  training: { team: "search" },
};

describe.each([
  ["GCP", () => gcpConfig(withTeams), () => gcpConfig(), (c: ReturnType<typeof gcpConfig>) => synthGcp(c).json],
  ["Azure", () => azureConfig(withTeams), () => azureConfig(), (c: ReturnType<typeof azureConfig>) => synthAzure(c).json],
] as const)("teams on %s", (_cloud, teamsConfig, plainConfig, synth) => {
  const config = teamsConfig();
  const json: TfJson = (synth as (c: typeof config) => TfJson)(config);
  const plain: TfJson = (synth as (c: ReturnType<typeof plainConfig>) => TfJson)(plainConfig());
  const syncJobs = (j: TfJson) => Object.values(resourcesOf(j, "kubernetes_job_v1")).filter((job) => /access-sync/.test(job.metadata.name));

  it("writes the environment's access policy into its ConfigMap", () => {
    const cm = Object.values(resourcesOf(json, "kubernetes_config_map_v1")).find(
      (c) => c.metadata.name === accessPolicyConfigMapName(TRACKING_SERVER),
    );
    expect(cm?.data["policy.json"]).toBe(accessPolicyJson(accessPolicyOf(config)!));
  });

  it("runs MLflow's auth app with workspaces, and the sync Job before the server rolls", () => {
    const server = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find((d) => d.metadata.name === TRACKING_SERVER);
    const args: string[] = server!.spec.template.spec.container[0].args;
    expect(args.join(" ")).toMatch(/--app-name platform-auth/);
    const [sync] = syncJobs(json);
    expect(sync.wait_for_completion).toBe(true);
    expect(sync.spec.template.metadata.labels).toMatchObject(accessSyncPodLabels(trackingInstance(config)));
  });

  it("lets the sync Job's pods reach the database through the default-deny policies", () => {
    const egress = Object.values(resourcesOf(json, "kubernetes_network_policy_v1")).find((p) => p.metadata.name === "access-sync-egress");
    expect(egress?.spec.pod_selector.match_labels).toEqual(accessSyncPodLabels(trackingInstance(config)));
    expect(JSON.stringify(egress?.spec.egress)).toContain('"5432"');
  });

  it("passes every synth-time policy, and makes none of it without teams", () => {
    expect(allRules().flatMap((rule) => rule.check(json).map((f) => `[${rule.id}] ${f.message}`))).toEqual([]);
    expect(syncJobs(plain)).toEqual([]);
    expect(
      Object.values(resourcesOf(plain, "kubernetes_network_policy_v1")).filter((p) => p.metadata.name === "access-sync-egress"),
    ).toEqual([]);
  });
});
