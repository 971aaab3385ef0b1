/**
 * Input/output logging of a ModelEndpoint: its props, their checks, the IAM policy of the
 * server's role and the NetworkPolicy egress the logger needs.
 */
import { RULE_KINDS, REDACT_PATTERNS } from "../core/inference-log";
import type { WorkloadIdentityMode } from "../core/workload-role";
import { artifactAccess } from "../core/grants";
import { isS3KeyPrefix } from "../core/s3-prefix";
import type { ITerraformDependable } from "cdktf";
import type { PodIdentityContract } from "../core/contracts";
import { egressRule, type FlowRule } from "../network-policies";

/** The key of the generated Secret holding the HMAC key. */
export const INFERENCE_LOG_SECRET_KEY = "hmac-key";
/** The EKS Pod Identity agent's link-local address on every node (credentials of Pod Identity roles). */
export const POD_IDENTITY_AGENT_CIDR = "169.254.170.23/32";

/** One obfuscation rule (runtime/src/mlflow_platform/serving/obfuscation.py). */
export interface ObfuscationRule {
  /** A field of the model: one of `inputFields` or `contextFields`. Required. */
  readonly field: string;
  /** drop | hash | mask | coarsen | redact. Required. */
  readonly kind: string;
  /** coarsen: bucket width (> 0). Required with coarsen. */
  readonly step?: number;
  /** mask: characters left visible at the end. @default 4 */
  readonly keepLast?: number;
  /** redact: what to replace in free text. @default ["email", "card", "phone"] */
  readonly patterns?: readonly string[];
}

/** How a ModelEndpoint logs its inputs and outputs, whatever the store. */
export interface InferenceLogSettings {
  /** Share of successful requests logged, 0-1. @default 1 */
  readonly sampling?: number;
  /** Request fields beside the features that are logged (under the rules); others never are. @default [] */
  readonly contextFields?: readonly string[];
  /** Obfuscation rules, applied before a record leaves the server. @default [] */
  readonly rules?: readonly ObfuscationRule[];
  /** Records per written object at most. @default 1000 */
  readonly batchRecords?: number;
  /** Seconds a record waits at most before its batch is written. @default 10 */
  readonly flushSeconds?: number;
}

/** Where and how a ModelEndpoint logs its inputs and outputs into S3, with an IAM role it creates. */
export interface ModelEndpointInferenceLog extends InferenceLogSettings {
  /** The artifact bucket's name. Required. */
  readonly bucketName: string;
  /** Its ARN. Required. */
  readonly bucketArn: string;
  /** Its KMS key (objects are encrypted with the bucket's default key). Required. */
  readonly kmsKeyArn: string;
  /** Key prefix of the log, beside MLflow's artifact prefix (never under it). Required. */
  readonly prefix: string;
  /** IAM role name of the server (unique per account). Required. */
  readonly roleName: string;
  /** EKS cluster name, account and region (the role's trust). Required. */
  readonly clusterName: string;
  readonly accountId: string;
  readonly region: string;
  /** How the pod gets its role. @default "pod-identity" */
  readonly identityMode?: WorkloadIdentityMode;
  /** IRSA only: the cluster's IAM OIDC provider ARN. @default - none (required with "irsa") */
  readonly oidcProviderArn?: string;
}

/** Problems of the props as [prop, value, expected] triples (the same rules config/inference.ts applies). */
export function inferenceLogProblems(l: AnyInferenceLog, inputFields: readonly string[]): [string, unknown, string][] {
  const out: [string, unknown, string][] = [];
  const sampling = l.sampling ?? 1;
  if (!(typeof sampling === "number" && sampling >= 0 && sampling <= 1))
    out.push(["inferenceLog.sampling", sampling, "a number from 0 to 1"]);
  if (!isS3KeyPrefix(l.prefix)) out.push(["inferenceLog.prefix", l.prefix, "an S3 key prefix without leading or trailing '/'"]);
  if (inputFields.length === 0) out.push(["inputFields", inputFields, "the model's input features, in order, when inferenceLog is set"]);
  const declared = new Set([...inputFields, ...(l.contextFields ?? [])]);
  (l.rules ?? []).forEach((r, i) => {
    if (!(RULE_KINDS as readonly string[]).includes(r.kind))
      out.push([`inferenceLog.rules[${i}].kind`, r.kind, `one of ${RULE_KINDS.join(", ")}`]);
    if (!declared.has(r.field))
      out.push([`inferenceLog.rules[${i}].field`, r.field, `a field of the model (${[...declared].join(", ") || "none declared"})`]);
    if (r.kind === "coarsen" && !(typeof r.step === "number" && r.step > 0))
      out.push([`inferenceLog.rules[${i}].step`, r.step, "a number above 0 for coarsen"]);
    for (const p of r.patterns ?? [])
      if (!(REDACT_PATTERNS as readonly string[]).includes(p))
        out.push([`inferenceLog.rules[${i}].patterns`, p, `some of ${REDACT_PATTERNS.join(", ")}`]);
  });
  return out;
}

/** The server's permissions: PutObject under its own log prefix, and the bucket key through S3 only. */
export function inferenceLogRolePolicy(l: ModelEndpointInferenceLog, modelName: string): Record<string, unknown> {
  return {
    Version: "2012-10-17",
    Statement: artifactAccess(l, {
      prefix: `${l.prefix}/model=${modelName}`,
      write: true,
      region: l.region,
      sids: { objects: "WriteOwnInferenceLog", key: "EncryptThroughS3" },
    }),
  };
}

/**
 * Egress of a logging server: DNS, the Pod Identity agent (port 80 on its link-local address) and HTTPS
 * (S3's regional endpoint, or a gateway endpoint's addresses: a NetworkPolicy cannot name a prefix list);
 * never the instance metadata service. IRSA gets its credentials from STS over the same HTTPS rule.
 */
export function inferenceLogEgress(l: ModelEndpointInferenceLog): Record<string, unknown>[] {
  return [
    {
      ports: [
        { port: "53", protocol: "UDP" },
        { port: "53", protocol: "TCP" },
      ],
    },
    ...((l.identityMode ?? "pod-identity") === "pod-identity"
      ? [{ to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT_CIDR } }], ports: [{ port: "80", protocol: "TCP" }] }]
      : []),
    {
      to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.169.254/32", "169.254.170.2/32", POD_IDENTITY_AGENT_CIDR] } }],
      ports: [{ port: "443", protocol: "TCP" }],
    },
  ];
}

/**
 * Where and how a ModelEndpoint logs its inputs and outputs into any cloud's object store, with an identity the
 * stack made for the server's service account (`modelServerName(namePrefix, modelName)`): GKE's or AKS's
 * Workload Identity allowed to create objects under `<prefix>/model=<modelName>/` and nothing else.
 */
export interface ObjectStoreInferenceLog extends InferenceLogSettings {
  /** The store: `gs://<bucket>` or `wasbs://<container>@<account>.blob.core.windows.net`. Required. */
  readonly destination: string;
  /** Object name prefix of the log, beside MLflow's artifact prefix (never under it). Required. */
  readonly prefix: string;
  /** The server's cloud identity: its service account's annotations, its pods' labels. Required. */
  readonly identity: PodIdentityContract;
  /** Egress the logger needs besides DNS: the store's API and where the pod gets its credentials. Required. */
  readonly egress: readonly FlowRule[];
  /** What the pods wait for (the identity and its bindings). @default [] */
  readonly readyWith?: readonly ITerraformDependable[];
}

/** Either store. */
export type AnyInferenceLog = ModelEndpointInferenceLog | ObjectStoreInferenceLog;

/** True for a log into another cloud's store (the stack made the identity); false for S3 (the endpoint makes an IAM role). */
export function isObjectStoreLog(l: AnyInferenceLog): l is ObjectStoreInferenceLog {
  return "destination" in l;
}

/** A store the server's `--inference-log-destination` takes (runtime common/object_store.py parses the same). */
const DESTINATION =
  /^(gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]|wasbs:\/\/[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}@[a-z0-9]{3,24}\.blob\.core\.windows\.net)$/;

/** Problems of an object-store log's own props as [prop, value, expected] triples. */
export function objectStoreLogProblems(l: ObjectStoreInferenceLog): [string, unknown, string][] {
  const out: [string, unknown, string][] = [];
  if (!DESTINATION.test(l.destination ?? ""))
    out.push([
      "inferenceLog.destination",
      l.destination,
      '"gs://<bucket>" or "wasbs://<container>@<account>.blob.core.windows.net", without a prefix (the prefix is its own prop)',
    ]);
  if (!Array.isArray(l.egress) || l.egress.length === 0)
    out.push([
      "inferenceLog.egress",
      l.egress,
      "the flows to the store's API and to the credentials (the NetworkPolicy denies all other egress)",
    ]);
  return out;
}

/** Egress of a server logging to another cloud's store: DNS, then the flows the stack gave. */
export function objectStoreLogEgress(l: ObjectStoreInferenceLog): Record<string, unknown>[] {
  return [
    {
      ports: [
        { port: "53", protocol: "UDP" },
        { port: "53", protocol: "TCP" },
      ],
    },
    ...l.egress.map(egressRule),
  ];
}
