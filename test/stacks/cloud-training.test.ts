/**
 * The GCP and Azure stacks with training on (their fixtures turn it on): Argo's artifact repository in the
 * environment's bucket or container under its own prefix, the pods' own cloud identity with read-write there only,
 * the proxy admitting the pipeline's tokens, and the training and Argo namespaces under the default-deny network
 * policies with the cloud's flows. Off, nothing of it is synthesized.
 */
import { synthGcp, gcpConfig } from "../helpers/gcp";
import { synthAzure, azureConfig } from "../helpers/azure";
import { resourcesOf, type TfJson } from "../helpers/synth";
import { GKE_METADATA_SERVER } from "../../constructs/network-policies/from-config";
import { MLFLOW_WORKSPACE_ENV, trainingStepCommands } from "../../constructs/training/command";
import { WORKLOAD_IDENTITIES_CONFIGMAP } from "../../constructs/auth-proxy/oauth2-proxy-command";

const TEAMS = {
  teams: [{ name: "team-b", groups: ["team-b-ds"], workspace: "forecasting" }],
  access: { platformAdminsGroup: "ml-platform-admins" },
  training: { team: "team-b" },
};
const configMap = (json: TfJson, name: string): any =>
  Object.values(resourcesOf(json, "kubernetes_config_map_v1")).find((c: any) => c.metadata.name === name);
const policies = (json: TfJson): any[] => Object.values(resourcesOf(json, "kubernetes_network_policy_v1"));
const template = (json: TfJson): any => {
  const [release] = Object.entries(resourcesOf(json, "helm_release")).filter(([k]) => k.startsWith("training_pipeline"));
  return JSON.parse((release[1] as any).values[0]).resources[0];
};
const trainingSa = (json: TfJson): any =>
  Object.values(resourcesOf(json, "kubernetes_service_account_v1")).find(
    (s: any) => s.metadata.name === "training-pipeline" && s.metadata.namespace === "ml-pipelines",
  );

describe("GCP stack with training", () => {
  const { json } = synthGcp();

  it("Argo's repository is the bucket under mlartifacts-argo, through Workload Identity (no key)", () => {
    const repo: string = configMap(json, "artifact-repositories").data.default;
    expect(repo).toMatch(/^archiveLogs: true\ngcs:\n {2}bucket: mlflow-gcp-dev-artifacts-example-ml-dev\n/);
    expect(repo).toContain('keyFormat: "mlartifacts-argo/{{workflow.name}}/{{pod.name}}"');
    expect(repo).not.toContain("serviceAccountKeySecret");
  });

  it("the pods' own Google service account, bound to their service account only, read-write on Argo's prefix only", () => {
    expect(trainingSa(json).metadata.annotations["iam.gke.io/gcp-service-account"]).toMatch(
      /^\$\{google_service_account\.training_identity_service_account_\w+\.email\}$/,
    );
    const binding = Object.values(resourcesOf(json, "google_service_account_iam_member")).find((m: any) =>
      String(m.service_account_id).includes("training_identity"),
    ) as any;
    expect(binding.member).toBe("serviceAccount:example-ml-dev.svc.id.goog[ml-pipelines/training-pipeline]");
    const grants = Object.values(resourcesOf(json, "google_storage_bucket_iam_member")).filter((m: any) =>
      String(m.member).includes("training_identity"),
    ) as any[];
    expect(grants.map((g) => g.role).sort()).toEqual(["roles/storage.objectUser", "roles/storage.objectViewer"]);
    for (const g of grants) expect(g.condition.expression).toContain("mlartifacts-argo/");
  });

  it("the training and Argo namespaces are default-deny; the workflow pods may reach the GKE metadata server", () => {
    const ps = policies(json);
    for (const ns of ["ml-pipelines", "argo"])
      expect(ps.some((p) => p.metadata.namespace === ns && p.metadata.name === "default-deny")).toBe(true);
    const pods = ps.find((p) => p.metadata.namespace === "ml-pipelines" && /workflow-pods-egress/.test(p.metadata.name));
    const cidrs = JSON.stringify(pods.spec.egress);
    for (const m of GKE_METADATA_SERVER) expect(cidrs).toContain(m.peer.cidr);
  });

  it("the proxy admits the pipeline's service account tokens (the subjects' file it reads exists, before it)", () => {
    const subjects = configMap(json, WORKLOAD_IDENTITIES_CONFIGMAP);
    expect(subjects).toBeDefined();
    expect(JSON.stringify(subjects.data)).toContain("system:serviceaccount:ml-pipelines:training-pipeline");
    const proxy = Object.entries(resourcesOf(json, "kubernetes_deployment_v1")).find(([k]) => k.startsWith("auth_proxy"))![1];
    expect(proxy.depends_on).toContain("kubernetes_config_map_v1.workload_identities");
  });

  it("with training off, nothing of it", () => {
    const off = synthGcp(gcpConfig({ training: { enabled: false } })).json;
    expect(Object.keys(resourcesOf(off, "helm_release")).filter((k) => /training|argo/.test(k))).toEqual([]);
    expect(JSON.stringify(off)).not.toContain("training_identity");
  });
});

describe("Azure stack with training", () => {
  const { json } = synthAzure();

  it("Argo's repository is the container under mlartifacts-argo, with the SDK's credentials (no key)", () => {
    const repo: string = configMap(json, "artifact-repositories").data.default;
    expect(repo).toContain("azure:\n  endpoint: https://");
    expect(repo).toContain(".blob.core.windows.net\n  container: mlflow\n  useSDKCreds: true\n");
    expect(repo).toContain('blobNameFormat: "mlartifacts-argo/{{workflow.name}}/{{pod.name}}"');
    expect(repo).not.toContain("accountKeySecret");
  });

  it("the pods' own managed identity, federated with their service account, read-write on Argo's prefix only", () => {
    expect(trainingSa(json).metadata.annotations["azure.workload.identity/client-id"]).toMatch(/training_identity/);
    const fed = Object.values(resourcesOf(json, "azurerm_federated_identity_credential")).find((f: any) =>
      String(f.parent_id).includes("training_identity"),
    ) as any;
    expect(fed.subject).toBe("system:serviceaccount:ml-pipelines:training-pipeline");
    const grants = Object.values(resourcesOf(json, "azurerm_role_assignment")).filter((g: any) =>
      String(g.principal_id).includes("training_identity"),
    ) as any[];
    expect(grants).toHaveLength(1);
    expect(grants[0].role_definition_name).toBe("Storage Blob Data Contributor");
    expect(grants[0].condition).toContain("StringStartsWith 'mlartifacts-argo/'");
  });

  it("every step's pod carries workload identity's label; the training namespace is default-deny", () => {
    for (const t of template(json).spec.templates.slice(1)) expect(t.metadata.labels["azure.workload.identity/use"]).toBe("true");
    expect(policies(json).some((p) => p.metadata.namespace === "ml-pipelines" && p.metadata.name === "default-deny")).toBe(true);
  });

  it("with training off, nothing of it", () => {
    const off = synthAzure(azureConfig({ training: { enabled: false } })).json;
    expect(JSON.stringify(off)).not.toContain("training_identity");
  });
});

describe.each([
  ["GCP", () => ({ json: synthGcp().json, config: gcpConfig() })],
  ["Azure", () => ({ json: synthAzure().json, config: azureConfig() })],
] as const)("the %s pipeline's steps are the cloud-neutral commands the end-to-end run executes", (_cloud, build) => {
  it("each step's container is exactly trainingStepCommands' (only the public hostname differs from an AWS one)", () => {
    const { json, config } = build();
    const wt = template(json);
    for (const s of trainingStepCommands(config)) {
      const t = wt.spec.templates.find((x: any) => x.name === s.step);
      expect(t.container.command).toEqual([...s.command.command]);
      expect(t.container.args).toEqual([...s.command.args]);
      expect(t.container.env).toEqual(s.command.env.map((e: any) => ({ name: e.name, value: e.value })));
    }
  });
});

describe.each([
  ["GCP", () => synthGcp(gcpConfig(TEAMS)).json],
  ["Azure", () => synthAzure(azureConfig(TEAMS)).json],
] as const)("%s with teams", (_cloud, build) => {
  it("every step works in the pipeline's team's workspace (the one its identity has a role in)", () => {
    for (const t of template(build()).spec.templates.slice(1))
      expect(t.container.env).toContainEqual({ name: MLFLOW_WORKSPACE_ENV, value: "forecasting" });
  });
});
