/**
 * Input/output logging of a ModelEndpoint: its props, their checks, the IAM policy of the
 * server's role and the NetworkPolicy egress the logger needs.
 */
import { RULE_KINDS, REDACT_PATTERNS } from "../core/inference-log";
import type { WorkloadIdentityMode } from "../core/workload-role";
import { artifactAccess } from "../core/grants";
import { isS3KeyPrefix } from "../core/s3-prefix";

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

/** Where and how a ModelEndpoint logs its inputs and outputs. */
export interface ModelEndpointInferenceLog {
  /** The artifact bucket's name. Required. */
  readonly bucketName: string;
  /** Its ARN. Required. */
  readonly bucketArn: string;
  /** Its KMS key (objects are encrypted with the bucket's default key). Required. */
  readonly kmsKeyArn: string;
  /** Key prefix of the log, beside MLflow's artifact prefix (never under it). Required. */
  readonly prefix: string;
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
export function inferenceLogProblems(l: ModelEndpointInferenceLog, inputFields: readonly string[]): [string, unknown, string][] {
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
