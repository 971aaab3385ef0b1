/**
 * The Azure stack (stacks/azure-stack.ts) of the Azure fixture environment: Azure's stores and identities below the
 * same Kubernetes half as an AWS stack, wired through the contracts, and nothing of AWS or Google Cloud.
 */
import { Testing } from "cdktf";
import { AKS_ENTRA_SERVER_APP_ID, AKS_TOKEN_VARIABLE, AzureMlflowStack } from "../../stacks/azure-stack";
import { stackErrorProblem, stackFieldMaps } from "../../stacks/prop-errors";
import { fieldOfProp, PropError } from "../../constructs/core/prop-error";
import { DYNAMIC, refusedProps } from "../helpers/prop-scan";
import { knownKeys } from "../../config/messages";
import { azureEnvironmentSchema } from "../../config/azure";
import { azureConfig, synthAzure } from "../helpers/azure";

const { json, stack } = synthAzure();
const resources = json.resource!;
const one = (type: string, match: RegExp = /./) => {
  const found = Object.entries(resources[type] ?? {}).filter(([name]) => match.test(name));
  if (found.length !== 1) throw new Error(`${found.length} ${type} matching ${match}`);
  return found[0][1] as Record<string, any>;
};
const DESTINATION = "wasbs://mlflow@mlflowazuredev0b1f64.blob.core.windows.net/mlartifacts";

describe("Azure stack", () => {
  it("creates Azure, Kubernetes, Helm and random resources only, with state in a blob reached with Entra ID", () => {
    expect(Object.keys(resources).filter((t) => !/^(azurerm|kubernetes|helm|random)_/.test(t))).toEqual([]);
    expect(Object.keys(json.data ?? {}).filter((t) => !t.startsWith("azurerm_"))).toEqual([]);
    expect(json.terraform).toMatchObject({
      backend: {
        azurerm: {
          resource_group_name: "ml-tfstate",
          storage_account_name: "exampleorgtfstate",
          container_name: "tfstate",
          key: "mlflow/azure-dev.tfstate",
          use_azuread_auth: true,
        },
      },
      required_version: ">= 1.10.0, < 2.0.0",
    });
    expect(Object.keys(json.provider!).sort()).toEqual(["azurerm", "helm", "kubernetes", "random"]);
    expect(json.provider!.azurerm[0]).toEqual({
      subscription_id: "0b1f6471-1bf0-4dda-aec3-111122223333",
      tenant_id: "5e3c1a7d-2b4f-4c6e-8a9b-0c1d2e3f4a5b",
      storage_use_azuread: true,
      features: [
        {
          key_vault: [{ purge_soft_delete_on_destroy: false, purge_soft_deleted_keys_on_destroy: false }],
          storage: [{ data_plane_available: false }],
        },
      ],
    });
  });

  it("tags every Azure resource that takes tags with the configured tags and the stack's own", () => {
    const tags = { "cost-center": "ml-platform", project: "mlflow", environment: "azure-dev", "managed-by": "cdktf" };
    for (const type of [
      "azurerm_key_vault",
      "azurerm_storage_account",
      "azurerm_postgresql_flexible_server",
      "azurerm_user_assigned_identity",
    ])
      for (const r of Object.values(resources[type]) as Record<string, any>[]) expect([type, r.tags]).toEqual([type, tags]);
  });

  it("authenticates to AKS with an Entra ID token passed in as a sensitive variable: no exec plugin, no kubeconfig credential", () => {
    expect(json.provider!.kubernetes[0]).toEqual({
      host: "${data.azurerm_kubernetes_cluster.aks_cluster.kube_config[0].host}",
      cluster_ca_certificate: "${base64decode(data.azurerm_kubernetes_cluster.aks_cluster.kube_config[0].cluster_ca_certificate)}",
      token: `\${var.${AKS_TOKEN_VARIABLE}}`,
    });
    expect(json.provider!.helm[0].kubernetes).toEqual(json.provider!.kubernetes[0]);
    expect((json as any).variable[AKS_TOKEN_VARIABLE]).toMatchObject({ type: "string", sensitive: true });
    expect((json as any).variable[AKS_TOKEN_VARIABLE].description).toContain(AKS_ENTRA_SERVER_APP_ID);
  });

  it("runs the tracking server and gc on the wasbs:// destination and the flexible server", () => {
    const container = one("kubernetes_deployment_v1", /^tracking_server/).spec.template.spec.container[0];
    const args: string[] = container.args;
    expect(args[args.indexOf("--artifacts-destination") + 1]).toBe(DESTINATION);
    const uri = container.env.find((e: { name: string }) => e.name === "MLFLOW_BACKEND_STORE_URI").value;
    expect(uri).toMatch(
      /^postgresql\+psycopg2:\/\/\$\(MLFLOW_DB_USER\)@\$\{azurerm_postgresql_flexible_server\.\w+\.fqdn\}:5432\/mlflow\?sslmode=require$/,
    );
    const gc = one("kubernetes_cron_job_v1", /^tracking_server/).spec.job_template.spec.template.spec.container[0];
    expect(JSON.stringify(gc)).toContain(DESTINATION);
  });

  it("federates the tracking server's service account with its own managed identity; its pods carry the workload identity label", () => {
    const ksa = one("kubernetes_service_account_v1", /^tracking_server/);
    const [mi] = Object.keys(resources.azurerm_user_assigned_identity).filter((n) => n.startsWith("workload_identity"));
    expect(ksa.metadata).toMatchObject({ name: "mlflow", namespace: "mlflow" });
    expect(ksa.metadata.annotations).toEqual({ "azure.workload.identity/client-id": `\${azurerm_user_assigned_identity.${mi}.client_id}` });
    expect(one("azurerm_federated_identity_credential", /^workload_identity/)).toMatchObject({
      subject: "system:serviceaccount:mlflow:mlflow",
      issuer: "${data.azurerm_kubernetes_cluster.aks_cluster.oidc_issuer_url}",
      audience: ["api://AzureADTokenExchange"],
    });
    const use = { "azure.workload.identity/use": "true" };
    expect(one("kubernetes_deployment_v1", /^tracking_server/).spec.template.metadata.labels).toMatchObject(use);
    expect(one("kubernetes_job_v1").spec.template.metadata.labels).toMatchObject(use);
    expect(one("kubernetes_cron_job_v1", /^tracking_server/).spec.job_template.spec.template.metadata.labels).toMatchObject(use);
    // The proxy has no cloud identity: no token is injected there.
    expect(one("kubernetes_deployment_v1", /^auth_proxy/).spec.template.metadata.labels).not.toHaveProperty([
      "azure.workload.identity/use",
    ]);
  });

  it("grants the identity Storage Blob Data Contributor on the container only, conditioned on the prefix", () => {
    const grants = (Object.values(resources.azurerm_role_assignment) as Record<string, any>[]).filter(
      // The tracking server's (the training pipeline's, on Argo's prefix, is test/stacks/cloud-training.test.ts's).
      (g) => g.role_definition_name === "Storage Blob Data Contributor" && /\.workload_identity_/.test(g.principal_id),
    );
    expect(grants).toHaveLength(1);
    expect(grants[0].scope).toMatch(/^\$\{azurerm_storage_account\.\w+\.id\}\/blobServices\/default\/containers\/mlflow$/);
    expect(grants[0].condition).toContain("StringStartsWith 'mlartifacts/'");
  });

  it("admits only the nodes' subnet to the storage account, and puts the database in its delegated subnet", () => {
    const account = one("azurerm_storage_account");
    expect(account.network_rules).toMatchObject({
      default_action: "Deny",
      virtual_network_subnet_ids: [
        "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/ml-network/providers/Microsoft.Network/virtualNetworks/ml-vnet/subnets/aks-nodes",
      ],
    });
    const server = one("azurerm_postgresql_flexible_server");
    expect(server.delegated_subnet_id).toMatch(/\/subnets\/postgres$/);
    expect(server.public_network_access_enabled).toBe(false);
  });

  it("keeps every store encrypted with its own key of the environment's vault, which Terraform's identity administers", () => {
    const vault = Object.keys(resources.azurerm_key_vault)[0];
    const keys = Object.values(resources.azurerm_key_vault_key) as Record<string, any>[];
    expect(keys.map((k) => k.name).sort()).toEqual(["mlflow-artifacts", "mlflow-database", "mlflow-images"]);
    for (const k of keys) expect(k.key_vault_id).toBe(`\${azurerm_key_vault.${vault}.id}`);
    expect(one("azurerm_key_vault")).toMatchObject({ name: "mlflow-azure-dev-0b1f64", network_acls: { ip_rules: ["203.0.113.0/24"] } });
    const admin = (Object.values(resources.azurerm_role_assignment) as Record<string, any>[]).find(
      (g) => g.role_definition_name === "Key Vault Crypto Officer",
    );
    expect(admin!.principal_id).toBe("${data.azurerm_client_config.client.object_id}");
  });

  it("lets the tracking server reach Blob Storage and Entra ID (443) and the database, not a node's credential endpoint", () => {
    const egress = one("kubernetes_network_policy_v1", /tracking-server-egress/).spec.egress as Record<string, any>[];
    const cidrs = egress.flatMap((e) => e.to.map((t: any) => `${t.ip_block?.cidr}:${e.ports[0].port}`));
    expect(cidrs).toEqual(expect.arrayContaining(["0.0.0.0/0:443", "10.30.0.0/16:5432"]));
    expect(cidrs.filter((c) => c.startsWith("169.254."))).toEqual([]);
  });

  it("keeps the model images' registry off the internet: the kubelet pulls through a private endpoint in the nodes' subnet", () => {
    expect(one("azurerm_container_registry")).toMatchObject({
      name: "mlflowazuredev0b1f64",
      admin_enabled: false,
      public_network_access_enabled: false,
    });
    expect(one("azurerm_private_endpoint").subnet_id).toMatch(/\/subnets\/aks-nodes$/);
    const pull = (Object.values(resources.azurerm_role_assignment) as Record<string, any>[]).find(
      (g) => g.role_definition_name === "AcrPull",
    );
    expect(pull!.principal_id).toBe("${data.azurerm_kubernetes_cluster.aks_cluster.kubelet_identity[0].object_id}");
  });

  it("routes the hostname to the proxy through an HTTPRoute on the Application Gateway for Containers Gateway", () => {
    const route = one("kubernetes_manifest").manifest;
    expect(route.kind).toBe("HTTPRoute");
    expect(route.spec.parentRefs).toEqual([
      { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "azure-alb", name: "internal" },
    ]);
    expect(route.spec.hostnames).toEqual(["mlflow-azure-dev.example.com"]);
  });

  it("without forceDestroy Terraform refuses to destroy the storage account (destroying it deletes the blobs); production protects the rest", () => {
    expect(one("azurerm_storage_account").lifecycle).toBeUndefined();
    const kept = synthAzure(azureConfig({ artifacts: { forceDestroy: false } })).json.resource!;
    expect((Object.values(kept.azurerm_storage_account)[0] as any).lifecycle).toEqual({ prevent_destroy: true });
    const prod = synthAzure(azureConfig({ production: true, artifacts: { forceDestroy: false }, database: { deletionProtection: true } }))
      .json.resource!;
    expect((Object.values(prod.azurerm_key_vault)[0] as any).lifecycle).toEqual({ prevent_destroy: true });
    expect(Object.keys(prod.azurerm_management_lock ?? {})).toHaveLength(1);
  });

  it("deploys model retention: its CronJob tags wasbs:// blobs as its own managed identity, which may only list and tag under the prefix", () => {
    expect(stack.node.metadata.filter((m) => m.type === "@cdktf/warn")).toEqual([]);
    const cron = one("kubernetes_cron_job_v1", /model_retention/);
    const pod = cron.spec.job_template.spec.template;
    expect(pod.spec.container[0].args).toEqual(expect.arrayContaining(["retention", "run", "--artifacts-destination", DESTINATION]));
    // AKS's webhook injects the token file into pods with this label only.
    expect(pod.metadata.labels["azure.workload.identity/use"]).toBe("true");
    expect(cron.metadata.labels["azure.workload.identity/use"]).toBeUndefined();
    const sa = one("kubernetes_service_account_v1", /model_retention/);
    expect(sa.metadata.annotations["azure.workload.identity/client-id"]).toMatch(
      /user_assigned_identity\.model_retention_identity_\w+\.client_id/,
    );
    expect(one("azurerm_federated_identity_credential", /model_retention/).subject).toBe(
      `system:serviceaccount:${azureConfig().mlflow.namespace}:${sa.metadata.name}`,
    );
    const def = one("azurerm_role_definition", /model_retention/);
    expect(def.permissions).toEqual([
      {
        actions: [],
        data_actions: [
          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags/read",
          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags/write",
        ],
      },
    ]);
    expect(def.scope).toMatch(/^\/subscriptions\/[0-9a-f-]+\/resourceGroups\/[\w.-]+$/);
    expect(def.assignable_scopes).toEqual([def.scope]);
    const assignment = one("azurerm_role_assignment", /model_retention/);
    expect(assignment.role_definition_id).toMatch(/azurerm_role_definition\.\w+\.role_definition_resource_id/);
    expect(assignment.scope).toMatch(/blobServices\/default\/containers\/mlflow$/);
    expect(assignment.condition).toContain(
      "@Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith 'mlartifacts/'",
    );
    expect(assignment.condition).toContain(
      "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'mlartifacts/'",
    );
    expect(JSON.stringify(one("kubernetes_network_policy_v1", /tracking_server/).spec)).toContain("model-retention");
  });

  it("refuses S3's offline classes for retention on a zone-redundant account, naming the configuration field", () => {
    const config = azureConfig({ registry: { retention: { storageClass: "GLACIER" } } });
    let err: unknown;
    try {
      synthAzure(config);
    } catch (e) {
      err = e;
    }
    expect(stackErrorProblem(config, err as Error)).toMatch(
      /^environment "azure-dev": field registry\.retention\.storageClass: refused while building stack mlflow-azure-dev: .*the Archive tier is not available on a ZRS account/,
    );
  });

  it("moves the blobs retention tagged to the Cold tier after the grace period, by a rule filtering on the blob index tag", () => {
    const rules = one("azurerm_storage_management_policy").rule as Record<string, any>[];
    expect(rules.find((r) => r.name === "model-retention-archive")).toEqual({
      name: "model-retention-archive",
      enabled: true,
      filters: {
        blob_types: ["blockBlob"],
        prefix_match: ["mlflow/mlartifacts/"],
        match_blob_index_tag: [{ name: "mlflow-platform-retention", operation: "==", value: "archive" }],
      },
      actions: { base_blob: { tier_to_cold_after_days_since_creation_greater_than: azureConfig().registry.retention.graceDays } },
    });
  });

  it("reports an Azure construct's refusal against the configuration field behind the prop", () => {
    const err = new PropError({ node: { path: "mlflow-azure-dev/blob_artifact_store" } } as never, "storageAccountName", "x", "a name");
    expect(stackErrorProblem(azureConfig(), err)).toMatch(
      /^environment "azure-dev": field artifacts.storageAccountName: refused while building stack mlflow-azure-dev: /,
    );
  });

  it("maps every Azure construct's props to fields of the Azure schema", () => {
    const maps = stackFieldMaps(azureConfig());
    const own = [
      "key_vault",
      "blob_artifact_store",
      "postgres_flexible_store",
      "workload_identity",
      "container_registry",
      "drift_iris_classifier",
      "model_iris_classifier_identity",
    ];
    expect(Object.keys(maps)).toEqual(expect.arrayContaining(own));
    const unknown = own.flatMap((id) =>
      Object.values(maps[id]).filter((field): field is string => {
        if (field === null) return false;
        const path = field.split(".");
        return !knownKeys(azureEnvironmentSchema, path.slice(0, -1)).includes(path[path.length - 1]);
      }),
    );
    expect(unknown).toEqual([]);
  });

  it("serves each model from the environment's Container Registry in its own restricted, default-deny namespace", () => {
    const d = one("kubernetes_deployment_v1", /^model_iris_classifier/);
    expect(d.metadata).toMatchObject({ name: "mlflow-azure-dev-iris-classifier", namespace: "models" });
    expect(d.spec.template.spec.container[0].image).toMatch(
      /^\$\{azurerm_container_registry\.container_registry_\w+\.login_server\}\/mlflow-azure-dev\/iris-classifier@sha256:(5e){32}$/,
    );
    expect(resources.aws_ecr_repository).toBeUndefined();
    expect(one("kubernetes_namespace_v1", /^serving_namespace$/).metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
    });
    const policies = Object.values(resources.kubernetes_network_policy_v1).map((p: any) => [p.metadata.namespace, p.metadata.name]);
    expect(policies).toEqual(
      expect.arrayContaining([
        ["models", "default-deny"],
        ["argo-rollouts", "default-deny"],
      ]),
    );
    // Blue-green releases (the default delivery): the stack installs the Argo Rollouts controller.
    expect(one("helm_release", /^argo_rollouts/).chart).toBe("argo-rollouts");
  });

  it("logs a model's inputs to wasbs:// as its own managed identity, which may only create blobs under the model's log prefix", () => {
    const c = one("kubernetes_deployment_v1", /^model_iris_classifier/).spec.template;
    const args: string[] = c.spec.container[0].args;
    const flag = (f: string) => args[args.indexOf(f) + 1];
    expect(flag("--inference-log-destination")).toBe("wasbs://mlflow@mlflowazuredev0b1f64.blob.core.windows.net");
    expect(flag("--inference-log-prefix")).toBe("inference-logs");
    expect(c.metadata.labels["azure.workload.identity/use"]).toBe("true");
    expect(c.spec.container[0].env.map((e: any) => e.name)).not.toContain("AWS_DEFAULT_REGION");
    const sa = one("kubernetes_service_account_v1", /^model_iris_classifier/);
    expect(sa.metadata.annotations["azure.workload.identity/client-id"]).toMatch(
      /user_assigned_identity\.model_iris_classifier_identity_\w+\.client_id/,
    );
    expect(one("azurerm_federated_identity_credential", /^model_iris_classifier/).subject).toBe(
      "system:serviceaccount:models:mlflow-azure-dev-iris-classifier",
    );
    expect(one("azurerm_role_definition", /^model_iris_classifier/).permissions).toEqual([
      { actions: [], data_actions: ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action"] },
    ]);
    const grant = one("azurerm_role_assignment", /^model_iris_classifier/);
    expect(grant.scope).toMatch(/blobServices\/default\/containers\/mlflow$/);
    expect(grant.condition).toContain(
      "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'inference-logs/model=iris-classifier/'",
    );
    // The records are deleted inferenceLog.expireDays after their creation, as the S3 store's rule does.
    const expiry = (one("azurerm_storage_management_policy").rule as any[]).find((r) => r.name === "inference-log-iris-classifier");
    expect(expiry).toMatchObject({
      filters: { prefix_match: ["mlflow/inference-logs/model=iris-classifier/"] },
      actions: {
        base_blob: {
          delete_after_days_since_creation_greater_than: azureConfig().serving.models["iris-classifier"].inferenceLog.expireDays,
        },
      },
    });
    // Its pods reach DNS and Blob Storage / Entra ID (443) only.
    const egress = one("kubernetes_network_policy_v1", /^model_iris_classifier_network_policy/).spec.egress;
    expect(egress.flatMap((e: any) => e.ports.map((p: any) => p.port)).sort()).toEqual(["443", "53", "53"]);
  });

  it("runs the drift job on the log as its own identity, which may only read and list it; the tracking server admits its pods", () => {
    const cron = one("kubernetes_cron_job_v1", /^drift_iris_classifier/);
    const pod = cron.spec.job_template.spec.template;
    const args: string[] = pod.spec.container[0].args;
    expect(args.slice(0, 7)).toEqual([
      "drift",
      "--model-name",
      "iris-classifier",
      "--model-version",
      "1",
      "--source",
      "wasbs://mlflow@mlflowazuredev0b1f64.blob.core.windows.net",
    ]);
    expect(pod.spec.container[0].env.map((e: any) => e.name)).not.toContain("AWS_DEFAULT_REGION");
    expect(pod.metadata.labels["azure.workload.identity/use"]).toBe("true");
    expect(one("azurerm_role_definition", /^drift_iris_classifier/).permissions).toEqual([
      { actions: [], data_actions: ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"] },
    ]);
    expect(one("azurerm_role_assignment", /^drift_iris_classifier/).condition).toContain(
      "@Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith 'inference-logs/model=iris-classifier/'",
    );
    const tracking = one("kubernetes_network_policy_v1", /^tracking_server_network-policy/);
    const admitted = JSON.stringify(tracking.spec.ingress);
    expect(admitted).toContain('"app.kubernetes.io/component":"drift-job"');
  });

  it("without a served model: no endpoint, no serving namespace, no Argo Rollouts, no drift job", () => {
    const config = azureConfig();
    const bare = synthAzure({ ...config, serving: { ...config.serving, models: {}, releases: {} } }).json.resource!;
    expect(Object.keys(bare.kubernetes_namespace_v1)).toEqual(expect.not.arrayContaining(["serving_namespace"]));
    expect(Object.keys(bare.helm_release).filter((k) => k.startsWith("argo_rollouts"))).toEqual([]);
    expect(Object.keys(bare.kubernetes_cron_job_v1).filter((k) => k.startsWith("drift_"))).toEqual([]);
    expect(Object.keys(bare.azurerm_role_definition)).toEqual([expect.stringMatching(/^model_retention/)]);
  });

  it("synthesizes with the policy pack's checks passing", () => {
    expect(() => Testing.synth(new AzureMlflowStack(Testing.app(), azureConfig({ name: "azure-qa" })), true)).not.toThrow();
  });
});

describe("every refusal of an Azure construct reaches the user as a configuration field", () => {
  const sources: Record<string, string> = {
    key_vault: "constructs/key-vault/index.ts",
    blob_artifact_store: "constructs/blob-artifact-store/index.ts",
    postgres_flexible_store: "constructs/postgres-flexible-store/index.ts",
    workload_identity: "constructs/aks-workload-identity/index.ts",
    container_registry: "constructs/container-registry/index.ts",
    model_iris_classifier_identity: "constructs/aks-workload-identity/index.ts",
  };
  const maps = stackFieldMaps(azureConfig());
  it.each(Object.entries(sources))("%s: every prop it can refuse is mapped (a field, or null: set by the stack)", (id, file) => {
    const unmapped = [...refusedProps([file])].filter((prop) => prop !== DYNAMIC && fieldOfProp(maps[id], prop) === undefined);
    expect(unmapped).toEqual([]);
  });
});
