/**
 * The small typed contracts constructs hand to each other. A construct never reaches into another
 * construct's resources: the stack passes these values along.
 */

/**
 * What an artifact store offers the Kubernetes half (the tracking server, its gc), whatever the cloud: a
 * bucket and the URI MLflow writes to. Each cloud's store adds what its own grants need.
 */
export interface ArtifactStoreContract {
  /** The bucket's name. */
  readonly bucketName: string;
  /**
   * Where MLflow writes artifacts (`--artifacts-destination`): `s3://<bucket>/<prefix>`, `gs://<bucket>/<prefix>` or
   * `wasbs://<container>@<account>.blob.core.windows.net/<prefix>`.
   */
  readonly destinationUri: string;
}

/** What the S3 artifact store offers: its bucket and key ARNs, which IAM policies grant on. */
export interface S3ArtifactStoreContract extends ArtifactStoreContract {
  /** The bucket's ARN. */
  readonly bucketArn: string;
  /** The customer-managed KMS key that encrypts the bucket. */
  readonly kmsKeyArn: string;
}

/** What the Cloud Storage artifact store offers: IAM bindings are made on the bucket's name. */
export interface GcsArtifactStoreContract extends ArtifactStoreContract {
  /** The Cloud KMS key that encrypts the bucket's objects (`projects/.../cryptoKeys/...`). */
  readonly kmsKeyName: string;
}

/**
 * What the Azure Blob artifact store offers: `bucketName` is the container's name; role assignments are made on
 * `containerScope`.
 */
export interface BlobArtifactStoreContract extends ArtifactStoreContract {
  /** The storage account holding the container. */
  readonly storageAccountName: string;
  /** The storage account's resource id. */
  readonly storageAccountId: string;
  /** The container's Azure Resource Manager id, the scope of the workload's role assignment. */
  readonly containerScope: string;
}

/**
 * A customer-managed key in Azure Key Vault, as an Azure store takes it (an `azurerm_key_vault_key` has both): the
 * versionless key id the service follows to the newest version, and the key's resource id, the scope of the
 * role assignment that lets the service's identity use it.
 */
export interface KeyVaultKeyRef {
  /** `https://<vault>.vault.azure.net/keys/<name>`, without a version. */
  readonly versionlessId: string;
  /** `/subscriptions/.../providers/Microsoft.KeyVault/vaults/<vault>/keys/<name>`, without a version. */
  readonly resourceVersionlessId: string;
}

/** A key of a Kubernetes Secret. */
export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

/** What the backend store offers the tracking server. */
export interface BackendStoreContract {
  /** Database endpoint host name (no port). */
  readonly host: string;
  readonly port: number;
  /** Database name. */
  readonly database: string;
  /** Host of the read replica, when the environment has one. */
  readonly readReplicaHost?: string;
  /** The Kubernetes Secret (in the tracking server's namespace) holding the database credentials. */
  readonly credentials: {
    readonly secretName: string;
    readonly usernameKey: string;
    readonly passwordKey: string;
  };
}

/**
 * A cloud identity as a workload's pods take it, whatever the cloud: what goes on their service account and on
 * the pods themselves. The identity is bound to a service account name the workload documents.
 */
export interface PodIdentityContract {
  /**
   * Annotations the service account needs: IRSA's role-arn annotation (empty for Pod Identity), GKE Workload
   * Identity's `iam.gke.io/gcp-service-account`, Azure Workload Identity's `azure.workload.identity/client-id`.
   */
  readonly serviceAccountAnnotations: Record<string, string>;
  /**
   * Labels the pods running as that service account must carry (Azure Workload Identity's
   * `azure.workload.identity/use`, which its admission webhook selects on); absent on AWS and GCP.
   */
  readonly podLabels?: Record<string, string>;
}

/** The cloud identity of the tracking server's pods, as the Kubernetes half sees it: a service account and its annotations. */
export interface TrackingIdentityContract extends PodIdentityContract {
  /** Kubernetes service account the tracking server, its Job and CronJob run as. */
  readonly serviceAccountName: string;
}

/**
 * One image repository in a registry the stack already has (Artifact Registry, Azure Container Registry): where a
 * workload's images are pulled from, by digest. The nodes' own identity pulls.
 */
export interface ImageRepositoryContract {
  /** `<registry host>/<path>`, without tag or digest, e.g. `europe-west1-docker.pkg.dev/<project>/<repo>/<model>`. */
  readonly repositoryUrl: string;
}

/** The AWS identity: the IAM role the service account is bound to. */
export interface AwsTrackingIdentityContract extends TrackingIdentityContract {
  readonly roleArn: string;
}

/** The Google identity: the Google service account the Kubernetes service account acts as. */
export interface GcpTrackingIdentityContract extends TrackingIdentityContract {
  readonly googleServiceAccountEmail: string;
}

/** The Azure identity: the user-assigned managed identity the service account is federated with (Workload Identity). */
export interface AzureTrackingIdentityContract extends TrackingIdentityContract {
  /** The managed identity's client id (the service account's `azure.workload.identity/client-id`). */
  readonly clientId: string;
  /** The managed identity's principal (object) id, which role assignments name. */
  readonly principalId: string;
  readonly podLabels: Record<string, string>;
}

/** A workload reachable through a Kubernetes Service: what a client, a NetworkPolicy or a ServiceMonitor needs. */
export interface ServiceContract {
  readonly namespace: string;
  readonly serviceName: string;
  /** The Service's main port. */
  readonly port: number;
  /** Name of that Service port (ServiceMonitors select ports by name). */
  readonly portName: string;
  /** Labels selecting the workload's pods. */
  readonly podLabels: Record<string, string>;
  /** Labels on the Service. */
  readonly serviceLabels: Record<string, string>;
}

/** What the tracking server offers the proxy and monitoring. */
export interface TrackingServerContract extends ServiceContract {
  /** Path of the Prometheus metrics, served on the main port. */
  readonly metricsPath: string;
}

/** What the authenticating proxy offers the ingress and monitoring. */
export interface AuthProxyContract extends ServiceContract {
  /** The separate port of the proxy's metrics, and its Service port name. */
  readonly metricsPort: number;
  readonly metricsPortName: string;
}
