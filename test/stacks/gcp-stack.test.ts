/**
 * The GCP stack (stacks/gcp-stack.ts) of the GCP fixture environment: Google's stores and identities below the
 * same Kubernetes half as an AWS stack, wired through the contracts, and nothing of AWS.
 */
import { stackErrorProblem } from "../../stacks/prop-errors";
import { PropError } from "../../constructs/core/prop-error";
import { gcpConfig, synthGcp } from "../helpers/gcp";
import { stackFieldMaps } from "../../stacks/prop-errors";
import { knownKeys } from "../../config/messages";
import { gcpEnvironmentSchema } from "../../config/gcp";

const { json, stack } = synthGcp();
const resources = json.resource!;
const one = (type: string, match: RegExp = /./) => {
  const found = Object.entries(resources[type] ?? {}).filter(([name]) => match.test(name));
  if (found.length !== 1) throw new Error(`${found.length} ${type} matching ${match}`);
  return found[0][1] as Record<string, any>;
};

describe("GCP stack", () => {
  it("creates Google, Kubernetes, Helm and random resources only, with state in Cloud Storage", () => {
    expect(Object.keys(resources).filter((t) => !/^(google|kubernetes|helm|random)_/.test(t))).toEqual([]);
    expect(Object.keys(json.data ?? {}).filter((t) => !t.startsWith("google_"))).toEqual([]);
    expect(json.terraform).toMatchObject({
      backend: { gcs: { bucket: "example-org-terraform-state-ml-dev", prefix: "mlflow/gcp-dev" } },
      required_version: ">= 1.10.0, < 2.0.0",
    });
    expect(Object.keys(json.provider!).sort()).toEqual(["google", "helm", "kubernetes", "random"]);
    expect(json.provider!.google[0]).toMatchObject({
      project: "example-ml-dev",
      region: "europe-west1",
      default_labels: { "cost-center": "ml-platform", project: "mlflow", environment: "gcp-dev", "managed-by": "cdktf" },
    });
  });

  it("authenticates to GKE with the caller's short-lived access token, never a kubeconfig", () => {
    expect(json.provider!.kubernetes[0]).toEqual({
      host: "https://${data.google_container_cluster.gke_cluster.endpoint}",
      cluster_ca_certificate: "${base64decode(data.google_container_cluster.gke_cluster.master_auth[0].cluster_ca_certificate)}",
      token: "${data.google_client_config.client.access_token}",
    });
  });

  it("runs the tracking server on the Cloud Storage bucket and the Cloud SQL instance", () => {
    const container = one("kubernetes_deployment_v1", /^tracking_server/).spec.template.spec.container[0];
    const args: string[] = container.args;
    expect(args[args.indexOf("--artifacts-destination") + 1]).toBe("gs://mlflow-gcp-dev-artifacts-example-ml-dev/mlartifacts");
    const uri = container.env.find((e: { name: string }) => e.name === "MLFLOW_BACKEND_STORE_URI").value;
    expect(uri).toMatch(
      /^postgresql\+psycopg2:\/\/\$\(MLFLOW_DB_USER\)@\$\{google_sql_database_instance\.\w+\.private_ip_address\}:5432\/mlflow\?sslmode=require$/,
    );
    // gc deletes from the same bucket.
    const gc = one("kubernetes_cron_job_v1", /^tracking_server/).spec.job_template.spec.template.spec.container[0];
    expect(JSON.stringify(gc)).toContain("gs://mlflow-gcp-dev-artifacts-example-ml-dev/mlartifacts");
  });

  it("binds the tracking server's service account to its own Google service account (Workload Identity)", () => {
    const ksa = one("kubernetes_service_account_v1", /^tracking_server/);
    const [gsa] = Object.keys(resources.google_service_account).filter((n) => n.startsWith("workload_identity"));
    expect(ksa.metadata).toMatchObject({ name: "mlflow", namespace: "mlflow" });
    expect(ksa.metadata.annotations).toEqual({ "iam.gke.io/gcp-service-account": `\${google_service_account.${gsa}.email}` });
    expect(one("google_service_account_iam_member", /^workload_identity/).member).toBe(
      "serviceAccount:example-ml-dev.svc.id.goog[mlflow/mlflow]",
    );
    const grants = Object.entries(resources.google_storage_bucket_iam_member as Record<string, any>).filter(([n]) =>
      n.startsWith("workload_identity"),
    );
    expect(grants).toHaveLength(2);
    for (const [, grant] of grants) {
      expect(grant.member).toBe(`serviceAccount:\${google_service_account.${gsa}.email}`);
      expect(grant.condition.expression).toContain("mlartifacts/");
    }
  });

  it("lets the tracking server reach the GKE metadata server, Google's APIs and the database, not the EKS Pod Identity agent", () => {
    const egress = one("kubernetes_network_policy_v1", /tracking-server-egress/).spec.egress as Record<string, any>[];
    const cidrs = egress.flatMap((e) => e.to.map((t: any) => `${t.ip_block?.cidr}:${e.ports[0].port}`));
    expect(cidrs).toEqual(
      expect.arrayContaining(["169.254.169.254/32:80", "169.254.169.252/32:988", "10.10.0.0/16:5432", "0.0.0.0/0:443"]),
    );
    expect(cidrs).not.toContain("169.254.170.23/32:80");
  });

  it("routes the hostname to the proxy through an HTTPRoute on the GKE Gateway", () => {
    const route = one("kubernetes_manifest").manifest;
    expect(route.kind).toBe("HTTPRoute");
    expect(route.spec.parentRefs).toEqual([
      { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "gateway", name: "internal" },
    ]);
    expect(route.spec.hostnames).toEqual(["mlflow-gcp-dev.example.com"]);
    expect(route.spec.rules[0].backendRefs[0].name).toBe("oauth2-proxy");
  });

  it("keeps every store CMEK-encrypted in the environment's own key ring", () => {
    const ring = Object.keys(resources.google_kms_key_ring)[0];
    const keys = Object.values(resources.google_kms_crypto_key) as Record<string, any>[];
    expect(keys.map((k) => k.name).sort()).toEqual(["artifacts", "database", "images"]);
    for (const k of keys) expect(k.key_ring).toBe(`\${google_kms_key_ring.${ring}.id}`);
  });

  it("deploys model retention: its CronJob marks gs:// objects as its own Google service account, which may only list and update metadata under the prefix", () => {
    expect(stack.node.metadata.filter((m) => m.type === "@cdktf/warn")).toEqual([]);
    const config = gcpConfig();
    const bucket = one("google_storage_bucket");
    const cron = one("kubernetes_cron_job_v1", /model_retention/);
    const container = cron.spec.job_template.spec.template.spec.container[0];
    expect(container.args).toEqual(
      expect.arrayContaining(["retention", "run", "--artifacts-destination", `gs://${bucket.name}/${config.artifacts.prefix}`]),
    );
    expect(container.env.map((e: { name: string }) => e.name)).not.toContain("AWS_DEFAULT_REGION");
    const sa = one("kubernetes_service_account_v1", /model_retention/);
    const gsa = one("google_service_account", /model_retention/);
    expect(gsa.account_id).toBe("mlflow-gcp-dev-retention");
    expect(sa.metadata.annotations["iam.gke.io/gcp-service-account"]).toMatch(
      /google_service_account\.model_retention_identity_service_account_\w+\.email/,
    );
    expect(one("google_service_account_iam_member", /model_retention/).member).toBe(
      `serviceAccount:${config.gcp.projectId}.svc.id.goog[${config.mlflow.namespace}/${sa.metadata.name}]`,
    );
    const role = one("google_project_iam_custom_role");
    expect(role.permissions).toEqual(["storage.objects.list", "storage.objects.update"]);
    const bindings = Object.entries(resources.google_storage_bucket_iam_member as Record<string, any>).filter(([k]) =>
      /model_retention/.test(k),
    );
    expect(bindings.map(([, b]) => b.role)).toEqual([
      expect.stringMatching(/google_project_iam_custom_role\.\w+\.name/),
      expect.stringMatching(/google_project_iam_custom_role\.\w+\.name/),
    ]);
    expect(bindings.map(([, b]) => b.condition.expression).sort()).toEqual([
      `resource.name.startsWith("projects/_/buckets/${bucket.name}/objects/${config.artifacts.prefix}/")`,
      expect.stringContaining(`objectListPrefix", "").startsWith("${config.artifacts.prefix}/")`),
    ]);
    // The tracking server's NetworkPolicy admits the job's pods.
    const ingress = JSON.stringify(one("kubernetes_network_policy_v1", /tracking_server/).spec);
    expect(ingress).toContain("model-retention");
  });

  it("maps S3's offline classes to ARCHIVE and deletes marked objects only when deleteAfterDays says so", () => {
    const json = synthGcp(gcpConfig({ registry: { retention: { storageClass: "GLACIER", graceDays: 10, deleteAfterDays: 400 } } })).json;
    const rules = (Object.values(json.resource!.google_storage_bucket)[0] as any).lifecycle_rule as { action: any; condition: any }[];
    expect(rules.filter((r) => r.condition.days_since_custom_time !== undefined)).toEqual([
      {
        action: { type: "SetStorageClass", storage_class: "ARCHIVE" },
        condition: {
          days_since_custom_time: 10,
          matches_prefix: ["mlartifacts/"],
          matches_storage_class: ["STANDARD", "NEARLINE", "COLDLINE"],
          with_state: "LIVE",
        },
      },
      { action: { type: "Delete" }, condition: { days_since_custom_time: 400, matches_prefix: ["mlartifacts/"], with_state: "LIVE" } },
    ]);
  });

  it("moves the objects retention marked by their Custom-Time, under the prefix, after the grace period", () => {
    const config = gcpConfig();
    const rules = one("google_storage_bucket").lifecycle_rule as { action: any; condition: any }[];
    const archive = rules.filter((r) => r.condition.days_since_custom_time !== undefined);
    expect(archive).toEqual([
      {
        action: { type: "SetStorageClass", storage_class: "COLDLINE" },
        condition: {
          days_since_custom_time: config.registry.retention.graceDays,
          matches_prefix: [`${config.artifacts.prefix}/`],
          matches_storage_class: ["STANDARD", "NEARLINE"],
          with_state: "LIVE",
        },
      },
    ]);
  });

  it("reports a GCP construct's refusal against the configuration field behind the prop", () => {
    const config = gcpConfig();
    const err = new PropError({ node: { path: "mlflow-gcp-dev/gcs_artifact_store" } } as never, "bucketName", "goog", "a name");
    expect(stackErrorProblem(config, err)).toMatch(
      /^environment "gcp-dev": field artifacts.bucketName: refused while building stack mlflow-gcp-dev: /,
    );
  });

  it("maps every GCP construct's props to fields of the GCP schema", () => {
    const maps = stackFieldMaps(gcpConfig());
    const gcpOwn = ["gcs_artifact_store", "cloud_sql_store", "workload_identity", "artifact_registry"];
    expect(Object.keys(maps)).toEqual(expect.arrayContaining(gcpOwn));
    const unknown = gcpOwn.flatMap((id) =>
      Object.values(maps[id]).filter((field): field is string => {
        if (field === null) return false;
        const path = field.split(".");
        return !knownKeys(gcpEnvironmentSchema, path.slice(0, -1)).includes(path[path.length - 1]);
      }),
    );
    expect(unknown).toEqual([]);
  });
});

describe("GCP stack: model serving (the fixture's released model, its inputs logged, drift on)", () => {
  const config = gcpConfig();
  const bucket = one("google_storage_bucket");
  const MODEL = "iris-classifier";
  const deployment = Object.values(resources.kubernetes_deployment_v1 as Record<string, any>).find(
    (d) => d.metadata.name === `mlflow-gcp-dev-${MODEL}`,
  );
  const container = deployment?.spec.template.spec.container[0];
  const arg = (args: string[], flag: string) => args[args.indexOf(flag) + 1];
  const bindingsOf = (serviceAccount: RegExp) =>
    Object.values(resources.google_storage_bucket_iam_member as Record<string, any>)
      .filter((b) => serviceAccount.test(b.member))
      .map((b) => [b.role, b.condition.expression])
      .sort((a, b) => a[1].localeCompare(b[1]));

  it("runs the release's image from the environment's Artifact Registry repository, by digest", () => {
    const repo = one("google_artifact_registry_repository");
    expect(container.image).toBe(
      `${config.gcp.region}-docker.pkg.dev/${config.gcp.projectId}/${repo.repository_id}/${MODEL}@${config.serving.releases[MODEL]!.imageDigest}`,
    );
    expect(deployment.metadata.namespace).toBe(config.serving.namespace);
  });

  it("logs its inputs into the artifact bucket's inference log, as its own Google service account that may only create objects there", () => {
    expect([arg(container.args, "--inference-log-destination"), arg(container.args, "--inference-log-prefix")]).toEqual([
      `gs://${bucket.name}`,
      "inference-logs",
    ]);
    const sa = one("kubernetes_service_account_v1", /model_iris/);
    expect(sa.metadata).toMatchObject({ name: `mlflow-gcp-dev-${MODEL}`, namespace: config.serving.namespace });
    expect(sa.metadata.annotations["iam.gke.io/gcp-service-account"]).toMatch(
      /google_service_account\.model_identity_iris_classifier_\w+\.email/,
    );
    expect(one("google_service_account_iam_member", /model_identity_iris/).member).toBe(
      `serviceAccount:${config.gcp.projectId}.svc.id.goog[${config.serving.namespace}/mlflow-gcp-dev-${MODEL}]`,
    );
    expect(bindingsOf(/model_identity_iris_classifier/)).toEqual([
      [
        "roles/storage.objectCreator",
        `resource.name.startsWith("projects/_/buckets/${bucket.name}/objects/inference-logs/model=${MODEL}/")`,
      ],
    ]);
    // Its pods may reach Google's APIs and the metadata server, besides DNS.
    const policy = Object.values(resources.kubernetes_network_policy_v1 as Record<string, any>).find(
      (p) => p.metadata.name === `mlflow-gcp-dev-${MODEL}`,
    );
    const egressTo = JSON.stringify(policy.spec.egress);
    expect(egressTo).toContain("169.254.169.254/32");
    expect(egressTo).toContain("0.0.0.0/0");
    // The bucket deletes the log after inferenceLog.expireDays.
    expect(bucket.lifecycle_rule).toContainEqual({
      action: { type: "Delete" },
      condition: { age: 30, matches_prefix: [`inference-logs/model=${MODEL}/`], with_state: "LIVE" },
    });
  });

  it("runs the drift job as another Google service account that may only list and read the model's log, and the tracking server admits it", () => {
    const cron = one("kubernetes_cron_job_v1", /drift_iris/);
    const args: string[] = cron.spec.job_template.spec.template.spec.container[0].args;
    expect([args[0], arg(args, "--source"), arg(args, "--prefix"), arg(args, "--model-version")]).toEqual([
      "drift",
      `gs://${bucket.name}`,
      "inference-logs",
      "1",
    ]);
    expect(bindingsOf(/drift_iris_classifier/)).toEqual([
      [
        "roles/storage.objectViewer",
        `resource.name.startsWith("projects/_/buckets/${bucket.name}/objects/inference-logs/model=${MODEL}/")`,
      ],
      [
        "roles/storage.objectViewer",
        `resource.type == "storage.googleapis.com/Bucket" && api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("inference-logs/model=${MODEL}/")`,
      ],
    ]);
    const tracking = Object.values(resources.kubernetes_network_policy_v1 as Record<string, any>).find(
      (p) => p.metadata.name === "mlflow-tracking",
    );
    const labels = cron.spec.job_template.spec.template.metadata.labels;
    expect(JSON.stringify(tracking.spec.ingress)).toContain(JSON.stringify(labels["app.kubernetes.io/component"]));
    expect(Object.keys(resources.kubernetes_network_policy_v1)).toEqual(expect.arrayContaining([expect.stringMatching(/drift/)]));
  });

  it("creates the models' namespace with the restricted Pod Security Standard and denies by default there", () => {
    const ns = Object.values(resources.kubernetes_namespace_v1 as Record<string, any>).find(
      (n) => n.metadata.name === config.serving.namespace,
    );
    expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const policies = Object.values(resources.kubernetes_network_policy_v1 as Record<string, any>)
      .filter((p) => p.metadata.namespace === config.serving.namespace)
      .map((p) => p.metadata.name)
      .sort();
    expect(policies).toEqual(["allow-dns", "default-deny", `mlflow-gcp-dev-${MODEL}`]);
  });

  it("gives each model's Google service accounts distinct ids, unique to the environment", () => {
    const ids = Object.values(resources.google_service_account as Record<string, any>).map((a) => a.account_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id: string) => /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/.test(id))).toBe(true);
  });
});
