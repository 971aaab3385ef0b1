/**
 * The small typed contracts constructs hand to each other. A construct never reaches into another
 * construct's resources: the stack passes these values along.
 */

/** What the artifact store offers the tracking server. */
export interface ArtifactStoreContract {
  /** The bucket's name. */
  readonly bucketName: string;
  /** The bucket's ARN. */
  readonly bucketArn: string;
  /** Where MLflow writes artifacts: `s3://<bucket>/<prefix>` (`--artifacts-destination`). */
  readonly destinationUri: string;
  /** The customer-managed KMS key that encrypts the bucket. */
  readonly kmsKeyArn: string;
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

/** The AWS identity of the tracking server's pods. */
export interface TrackingIdentityContract {
  /** Kubernetes service account the tracking server, its Job and CronJob run as. */
  readonly serviceAccountName: string;
  /** IAM role the service account is bound to. */
  readonly roleArn: string;
  /** Annotations the service account needs (IRSA's role-arn annotation; empty for Pod Identity). */
  readonly serviceAccountAnnotations: Record<string, string>;
}

/** What the tracking server offers the proxy and monitoring. */
export interface TrackingServerContract {
  readonly namespace: string;
  readonly serviceName: string;
  readonly port: number;
  /** Name of the Service port (for ServiceMonitors). */
  readonly portName: string;
  /** Labels selecting the tracking server's pods. */
  readonly podLabels: Record<string, string>;
  /** Labels on the tracking server's Service. */
  readonly serviceLabels: Record<string, string>;
  readonly metricsPath: string;
}

/** What the authenticating proxy offers the ingress and monitoring. */
export interface AuthProxyContract {
  readonly namespace: string;
  readonly serviceName: string;
  readonly port: number;
  readonly portName: string;
  readonly podLabels: Record<string, string>;
  readonly serviceLabels: Record<string, string>;
  readonly metricsPort: number;
  readonly metricsPortName: string;
}
