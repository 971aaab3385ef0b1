/** What the end-to-end steps share: the started services, the synthesized stack, the tokens. */
import type { EnvironmentConfig } from "../../config/schema";
import type { LocalDeployment, LocalProcess } from "./lib/deployment";
import type { Forwarder } from "./lib/forwarder";
import type { Managed, Processes } from "./lib/processes";
import type { PublicCertificate } from "./lib/tls";
import type { Report } from "./lib/report";
import type { StackJson, Workload } from "./lib/workloads";
import type { Oidc } from "./services/oidc";
import type { Postgres } from "./services/postgres";
import type { S3 } from "./services/s3";

export interface Tools {
  readonly python: string;
  readonly mlflow: string;
  readonly motoServer: string;
  readonly oauth2Proxy: string;
  readonly mockoidc: string;
}

export interface Running {
  readonly proc: Managed;
  readonly local: LocalProcess;
}

export interface TrainingResult {
  readonly run_id: string;
  readonly experiment_id: string;
  readonly model_uri: string;
  readonly model_id: string | null;
  readonly accuracy: number;
  readonly loss: number;
  readonly epochs: number;
}

export interface Ctx {
  readonly report: Report;
  readonly procs: Processes;
  readonly runDir: string;
  readonly repoRoot: string;
  tools?: Tools;
  config?: EnvironmentConfig;
  json?: StackJson;
  deployment?: LocalDeployment;
  workloads?: { tracking: Workload; proxy: Workload; migration: Workload; sync?: Workload; gc: Workload; retention: Workload };
  forwarders: Forwarder[];
  /** Loopback ports chosen before rendering (the commands name them). */
  ports?: { pg: number; s3: number };
  oidc?: Oidc;
  clientSecret?: string;
  pg?: Postgres;
  s3?: S3;
  bucket?: string;
  prefix?: string;
  tracking?: Running & { port: number };
  proxy?: Running & { port: number; metricsPort: number };
  /** The load balancer stand-in: the only address clients use. */
  alb?: Forwarder;
  /** The load balancer stand-in's HTTPS listener for the public hostname (what a browser opens). */
  albHttps?: Forwarder;
  /** The public hostname's self-signed certificate that listener serves. */
  publicCertificate?: PublicCertificate;
  token?: string;
  training?: TrainingResult;
  modelName?: string;
  /** Refusals the negative checks provoked, by status: the proxy's metrics must count at least these. */
  refusals: Record<string, number>;
}

/** A value a step needs from an earlier one; a clear error when that step did not deliver it. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`cannot run: ${what} is not available (an earlier step failed)`);
  return value;
}
