/**
 * An Azure environment (`cloud: "azure"`, config/azure.ts): validated with Azure's own rules
 * (constructs/core/azure-limits.ts), AWS-only options, Google Cloud's section and features not supported on Azure
 * yet refused naming environment and field.
 */
import * as fs from "fs";
import * as path from "path";
import { azureConfig, azureProblems } from "../helpers/azure";
import { azureConfigRows, azureDocWithReference } from "../../scripts/config-reference";
import { configProblems, entry } from "../helpers/synth";
import { deepMerge } from "../../config/merge";
import { ConfigError, resolveAllEnvironments, resolveEnvironments } from "../../config/load";
import { azureResourceNames, azureTags, subscriptionSuffix } from "../../config/azure";
import { AZURE_SUBSCRIPTION_ID, azureEnvironment, gcpEnvironment, shared } from "../fixtures/environments";

const ENV = 'environment "azure-dev"';

describe("cloud", () => {
  it("takes azure beside aws and gcp; a command for AWS environments only gets the AWS ones, the Azure one validated all the same", () => {
    expect(azureConfig().cloud).toBe("azure");
    const dev = deepMerge(shared as Record<string, unknown>, entry("dev") as Record<string, unknown>);
    expect(resolveEnvironments({}, [dev, azureEnvironment as never]).map((e) => [e.name, e.cloud])).toEqual([["dev", "aws"]]);
    expect(() =>
      resolveEnvironments({}, [dev, { ...azureEnvironment, azure: { ...azureEnvironment.azure, location: "eu-west-1" } } as never]),
    ).toThrow(/environment "azure-dev": field azure.location = "eu-west-1"/);
    expect(resolveAllEnvironments({}, [dev, gcpEnvironment as never, azureEnvironment as never]).map((e) => e.cloud)).toEqual([
      "aws",
      "gcp",
      "azure",
    ]);
  });

  it("another cloud's section is named as such: azure on AWS and GCP, gcp on Azure", () => {
    expect(configProblems({ azure: { location: "westeurope" } })).toEqual([
      'environment "dev": field azure = {"location":"westeurope"}: expected no azure on an AWS environment: it is the Azure section (an environment with cloud: "azure")',
    ]);
    expect(() => resolveAllEnvironments({}, [{ ...gcpEnvironment, azure: { location: "westeurope" } } as never])).toThrow(
      'environment "gcp-dev": field azure = {"location":"westeurope"}: expected no azure on a GCP environment: it is the Azure section (an environment with cloud: "azure")',
    );
    expect(azureProblems({ gcp: { projectId: "example-ml-dev" } })).toEqual([
      `${ENV}: field gcp = {"projectId":"example-ml-dev"}: expected no gcp on an Azure environment: it is the Google Cloud section (an environment with cloud: "gcp")`,
    ]);
  });
});

describe("an Azure environment's configuration", () => {
  it("the fixture resolves, with the cloud-neutral sections' defaults and Azure's own", () => {
    const c = azureConfig();
    expect(c.azure.location).toBe("westeurope");
    expect(c.mlflow.port).toBe(5000);
    expect(c.ingress.kind).toBe("gateway-api");
    expect(c.artifacts).toMatchObject({ containerName: "mlflow", prefix: "mlartifacts", noncurrentExpireDays: 30 });
    expect(c.database).toMatchObject({
      engineVersion: "17",
      storageMb: 32768,
      backupRetentionDays: 7,
      maintenanceDay: 0,
      maintenanceHour: 4,
    });
    expect(c.state).toEqual({
      backend: "azurerm",
      resourceGroupName: "ml-tfstate",
      storageAccountName: "exampleorgtfstate",
      containerName: "tfstate",
      key: "mlflow/{env}.tfstate",
    });
  });

  it("derives the global names from project, name and six hex digits of the subscription", () => {
    expect(subscriptionSuffix(AZURE_SUBSCRIPTION_ID)).toBe("0b1f64");
    expect(azureResourceNames(azureConfig())).toEqual({
      stack: "mlflow-azure-dev",
      storageAccount: "mlflowazuredev0b1f64",
      keyVault: "mlflow-azure-dev-0b1f64",
      postgresServer: "mlflow-azure-dev-0b1f64",
      containerRegistry: "mlflowazuredev0b1f64",
    });
    const named = azureConfig({ artifacts: { storageAccountName: "acmemlartifacts" }, azure: { keyVaultName: "acme-ml-kv" } });
    expect(azureResourceNames(named)).toMatchObject({ storageAccount: "acmemlartifacts", keyVault: "acme-ml-kv" });
    expect(azureTags(azureConfig())).toEqual({
      "cost-center": "ml-platform",
      project: "mlflow",
      environment: "azure-dev",
      "managed-by": "cdktf",
    });
  });

  it("refuses a storage account name Azure refuses, and a derived one, saying how to fix it", () => {
    expect(azureProblems({ artifacts: { storageAccountName: "ml-artifacts" } })).toEqual([
      `${ENV}: field artifacts.storageAccountName = "ml-artifacts": expected an Azure storage account name: 3-24 lower-case letters and digits, no hyphens (it is global: <name>.blob.core.windows.net)`,
    ]);
    expect(azureProblems({ name: "azure-development" })).toEqual([
      'environment "azure-development": field name = "azure-development": expected a name that gives a valid storage account name: "mlflowazuredevelopment0b1f64" is not an Azure storage account name: 3-24 lower-case letters and digits, no hyphens (it is global: <name>.blob.core.windows.net) (this one has 28 characters); shorten project or name, or set artifacts.storageAccountName',
    ]);
    // With the storage account named, the derived Key Vault name is the next one too long.
    expect(azureProblems({ name: "azure-development", artifacts: { storageAccountName: "acmemlartifacts" } })).toEqual([
      expect.stringMatching(
        /field name = "azure-development": expected a name that gives a valid Key Vault name: "mlflow-azure-development-0b1f64" is not a Key Vault name.*set azure.keyVaultName$/,
      ),
    ]);
    expect(azureProblems({ artifacts: { containerName: "ML" } })).toEqual([
      expect.stringMatching(/field artifacts.containerName = "ML": expected a blob container name: 3-63 lower-case letters/),
    ]);
  });

  it("refuses an AWS or a Google Cloud region, and a display name, naming environment and field", () => {
    expect(azureProblems({ azure: { location: "eu-west-1" } })).toEqual([
      `${ENV}: field azure.location = "eu-west-1": expected an Azure region's programmatic name such as "westeurope" or "eastus2" (\`az account list-locations --query "[].name"\`), not an AWS region ("eu-west-1" is AWS's naming: <area>-<direction>-<number>)`,
    ]);
    expect(azureProblems({ azure: { location: "europe-west1" } })).toEqual([
      expect.stringMatching(/field azure.location = "europe-west1": expected .*not a Google Cloud region or zone/),
    ]);
    expect(azureProblems({ azure: { location: "West Europe" } })).toEqual([
      expect.stringMatching(/field azure.location = "West Europe": expected .*write "westeurope", not "West Europe"$/),
    ]);
  });

  it("refuses malformed ids, subnets of another network, and the nodes' subnet for the database", () => {
    const vnet = azureEnvironment.azure!.virtualNetworkId!;
    const other = vnet.replace("ml-vnet", "other-vnet");
    expect(
      azureProblems({
        azure: { subscriptionId: "ml-dev", tenantId: "contoso.onmicrosoft.com", clusterSubnetId: `${other}/subnets/aks-nodes` },
      }),
    ).toEqual([
      expect.stringMatching(/field azure.subscriptionId = "ml-dev": expected an Azure subscription id: a GUID/),
      expect.stringMatching(/field azure.tenantId = "contoso.onmicrosoft.com": expected an Azure tenant id: a GUID/),
      expect.stringMatching(
        /field azure.clusterSubnetId = .*: expected a subnet of azure.virtualNetworkId \(ml-vnet\), not of other-vnet$/,
      ),
    ]);
    expect(azureProblems({ azure: { databaseSubnetId: `${vnet}/subnets/aks-nodes` } })).toEqual([
      expect.stringMatching(
        /field azure.databaseSubnetId = .*: expected a subnet of its own, delegated to Microsoft.DBforPostgreSQL\/flexibleServers/,
      ),
    ]);
    expect(azureProblems({ azure: { virtualNetworkId: "ml-vnet", keyVaultAllowedCidrs: ["10.0.0.0/8"] } })).toEqual([
      expect.stringMatching(/field azure.virtualNetworkId = "ml-vnet": expected a virtual network's resource id/),
      expect.stringMatching(/field azure.keyVaultAllowedCidrs.0 = "10.0.0.0\/8": expected a public IPv4 address .* is a private range/),
    ]);
  });

  it("refuses each AWS-only option, naming the field and what to write instead", () => {
    expect(
      azureProblems({
        aws: { accountId: "111111111111", region: "eu-west-1" },
        database: { instanceClass: "db.t4g.micro", multiAz: true },
        ingress: { certificateArn: "arn:aws:acm:eu-west-1:111111111111:certificate/x" },
        artifacts: { bucketName: "mlflow-artifacts" },
        state: { backend: "s3" },
      }),
    ).toEqual([
      `${ENV}: field aws = {"accountId":"111111111111","region":"eu-west-1"}: expected no aws on an Azure environment: it is an AWS-only option; write azure.subscriptionId and azure.location instead`,
      `${ENV}: field ingress.certificateArn = "arn:aws:acm:eu-west-1:111111111111:certificate/x": expected no ingress.certificateArn on an Azure environment: it is an AWS-only option; write nothing: TLS terminates at the Application Gateway for Containers Gateway (its certificate) instead`,
      `${ENV}: field artifacts.bucketName = "mlflow-artifacts": expected no artifacts.bucketName on an Azure environment: it is an AWS-only option; write artifacts.storageAccountName and artifacts.containerName instead`,
      `${ENV}: field database.instanceClass = "db.t4g.micro": expected no database.instanceClass on an Azure environment: it is an AWS-only option; write database.skuName instead`,
      `${ENV}: field database.multiAz = true: expected no database.multiAz on an Azure environment: it is an AWS-only option; write database.highAvailability instead`,
      `${ENV}: field state.backend = "s3": expected no state.backend on an Azure environment: it is an AWS-only option; write state.backend "azurerm" (with state.resourceGroupName, state.storageAccountName and state.key) or "local" instead`,
    ]);
  });

  it("refuses what Azure's lifecycle management cannot express, saying why", () => {
    expect(
      azureProblems({ artifacts: { noncurrentVersionsToKeep: 3, noncurrentMaxDays: 365, abortIncompleteMultipartUploadDays: 3 } }),
    ).toEqual([
      `${ENV}: field artifacts.noncurrentVersionsToKeep = 3: expected no artifacts.noncurrentVersionsToKeep on an Azure environment: Azure's lifecycle management keeps no number of versions: artifacts.noncurrentExpireDays deletes each previous version that many days after it became one`,
      `${ENV}: field artifacts.noncurrentMaxDays = 365: expected no artifacts.noncurrentMaxDays on an Azure environment: without a number of versions kept, artifacts.noncurrentExpireDays is the only limit (every previous version is deleted then)`,
      `${ENV}: field artifacts.abortIncompleteMultipartUploadDays = 3: expected no artifacts.abortIncompleteMultipartUploadDays on an Azure environment: Blob Storage discards uncommitted blocks by itself (after seven days), there is nothing to configure`,
    ]);
  });

  it("leaves out the AWS-only options that come from shared, and refuses them in the entry", () => {
    const [config] = resolveAllEnvironments(shared, [azureEnvironment as never]);
    expect(config.cloud).toBe("azure");
    expect(Object.keys(config)).not.toEqual(expect.arrayContaining(["aws", "cluster", "identity", "notifications", "ci"]));
    expect(azureProblems({ identity: { mode: "pod-identity" } }, { identity: { mode: "pod-identity" } })).toEqual([
      `${ENV}: field identity = {"mode":"pod-identity"}: expected no identity on an Azure environment: it is an AWS-only option; write nothing: AKS workload identity binds each workload to its own user-assigned managed identity instead`,
    ]);
  });

  it("serves models reached in the cluster (exposure none) by default", () => {
    const models = { iris: { classNames: ["a"], inputFields: ["x"], inferenceLog: { enabled: true } } };
    const config = azureConfig({ serving: { models, gatewayCidrs: ["10.30.0.0/16"], delivery: { strategy: "rollingUpdate" } } });
    expect(Object.keys(config.serving.models)).toContain("iris");
    expect(config.serving.exposure).toBe("none");
  });

  it("refuses the ECR-only serving options written in the entry, and leaves them out when they come from shared", () => {
    const models = { iris: { classNames: ["a"] } };
    expect(azureProblems({ serving: { models, keepImages: 5, expireTagPrefixes: { "dev-": 3 } } })).toEqual([
      `${ENV}: field serving.keepImages = 5: expected no serving.keepImages on an Azure environment: it is an AWS-only option; write nothing: the Container Registry deletes untagged manifests after its retention period (docs/azure.md) instead`,
      `${ENV}: field serving.expireTagPrefixes = {"dev-":3}: expected no serving.expireTagPrefixes on an Azure environment: it is an AWS-only option; write nothing: the Container Registry's retention applies to untagged manifests only (docs/azure.md) instead`,
    ]);
    const [config] = resolveAllEnvironments({ serving: { keepImages: 5 } }, [
      deepMerge(azureEnvironment as Record<string, unknown>, { serving: { models } }),
    ]);
    expect(config.serving.keepImages).toBe(10);
  });

  it("checks teams on Azure as on AWS, in the entry and from shared: a team without access' administrators is refused", () => {
    const teams = [{ name: "team-a", groups: ["team-a-ds"] }];
    // The fixture trains: with teams, its pipeline names the team whose workspace it works in.
    const training = { team: "team-a" };
    expect(azureProblems({ teams, training })).toEqual([
      expect.stringMatching(/field access.platformAdminsGroup = nothing: expected the identity provider group/),
    ]);
    expect(azureProblems({ training }, { teams })).toEqual([expect.stringMatching(/field access.platformAdminsGroup = nothing/)]);
    expect(azureConfig({ teams, training, access: { platformAdminsGroup: "platform-admins" } }).teams).toEqual([
      expect.objectContaining({ name: "team-a", groups: ["team-a-ds"] }),
    ]);
  });

  it("production: deletion protection, artifacts kept, no local test profile", () => {
    expect(azureProblems({ production: true })).toEqual([
      `${ENV}: field database.deletionProtection = false: expected true in a production environment`,
      `${ENV}: field artifacts.forceDestroy = true: expected false in a production environment (it would let destroy delete every artifact)`,
    ]);
    expect(azureConfig({ production: true, database: { deletionProtection: true }, artifacts: { forceDestroy: false } }).production).toBe(
      true,
    );
  });

  it("accepts registry-aware retention on Azure, written in the entry (the job sets blob index tags)", () => {
    expect(azureConfig({ registry: { retention: { keepVersions: 3, deleteAfterDays: 400 } } }).registry.retention).toMatchObject({
      keepVersions: 3,
      deleteAfterDays: 400,
    });
  });

  it("database: Azure's storage sizes, retention, zones and high availability", () => {
    expect(azureProblems({ database: { storageMb: 40000, backupRetentionDays: 3 } })).toEqual([
      expect.stringMatching(/field database.storageMb = 40000: expected one of the flexible server's storage sizes in MB: 32768, 65536/),
      `${ENV}: field database.backupRetentionDays = 3: expected days: a whole number from 7 to 35`,
    ]);
    expect(azureProblems({ database: { highAvailability: true } })).toEqual([
      `${ENV}: field database.highAvailability = true: expected false with a burstable SKU (B_Standard_B1ms): high availability needs GP_ or MO_`,
    ]);
    expect(azureProblems({ database: { skuName: "GP_Standard_D2ds_v5", highAvailability: true, zone: "1", standbyZone: "1" } })).toEqual([
      `${ENV}: field database.standbyZone = "1": expected another zone than database.zone (1): the standby guards against the loss of a zone`,
    ]);
    expect(azureProblems({ database: { standbyZone: "2" } })).toEqual([
      `${ENV}: field database.standbyZone = "2": expected nothing unless database.highAvailability is on (it is the standby's zone)`,
    ]);
    expect(azureProblems({ database: { skuName: "db-custom-1-3840" } })[0]).toMatch(
      /expected a flexible server SKU such as "GP_Standard_D2ds_v5"/,
    );
  });

  it("tags follow Azure's rules: no stack tag, names without <>%&\\?/ and of at most 128 characters, one spelling per name", () => {
    expect(azureProblems({ tags: { "cost/center": "ml", environment: "x", "Cost-Center": "ml" } })).toEqual([
      expect.stringMatching(/field tags.cost\/center = "ml": expected a tag name of 1-128 characters without/),
      expect.stringMatching(/field tags.environment = "x": expected no "environment" tag: the stack sets project, environment, managed-by/),
      `${ENV}: field tags.Cost-Center = "ml": expected no second spelling of tag "cost-center" (Azure's tag names are case-insensitive)`,
    ]);
  });
});

describe("Azure state locations", () => {
  it("two Azure environments may not share a state blob", () => {
    const state = { backend: "azurerm", resourceGroupName: "ml-tfstate", storageAccountName: "exampleorgtfstate", key: "mlflow.tfstate" };
    let problems: string[] = [];
    try {
      resolveAllEnvironments({}, [{ ...azureEnvironment, state } as never, { ...azureEnvironment, name: "azure-prod", state } as never]);
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      'environment "azure-prod": field state.key = "mlflow.tfstate": expected a state location no other environment uses: environment "azure-dev" also keeps its state in https://exampleorgtfstate.blob.core.windows.net/tfstate/mlflow.tfstate; put {env} in it',
    ]);
    // With {env} in the key (the default), each has its own.
    expect(resolveAllEnvironments({}, [azureEnvironment as never, { ...azureEnvironment, name: "azure-prod" } as never])).toHaveLength(2);
  });

  it("a state backend of another cloud is refused by the union's own message", () => {
    expect(azureProblems({ state: { backend: "gcs" } })).toEqual([
      expect.stringMatching(
        /field state.backend = "gcs": expected state.backend: "azurerm" \(remote, locked\) or "local" on an Azure environment/,
      ),
    ]);
  });
});

describe("docs/azure.md", () => {
  it("its reference is the one rendered from config/azure.ts (run `npm run docs`), every field described", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "azure.md"), "utf8");
    expect(azureDocWithReference(doc)).toBe(doc);
    expect(
      azureConfigRows()
        .filter((r) => !r.type.startsWith("object") && !r.own)
        .map((r) => r.field),
    ).toEqual([]);
  });
});
