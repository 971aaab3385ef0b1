/**
 * What an environment on a cloud other than AWS refuses, the same way on each (config/gcp.ts, config/azure.ts):
 * the AWS-only fields (often inherited from `shared`), each with what to write instead, and the sections of another
 * cloud; and the training section's rules there. Each cloud passes its own {@link CloudRefusals}: its words for the
 * same refusals.
 */
import { trainingProblems } from "./training";

/** How one cloud names what it refuses. */
export interface CloudRefusals {
  /** "a GCP environment", "an Azure environment". */
  readonly environment: string;
  /** "not supported on GCP yet (docs/gcp.md#not-yet-supported)". */
  readonly notYet: string;
  /**
   * The fields of an AWS environment that mean nothing on this cloud (dotted paths): what to write instead
   * (reported as "it is an AWS-only option; write ... instead"), or `{ refused }`, the whole expectation, for a
   * field this cloud's services cannot express.
   */
  readonly awsOnlyFields: Record<string, string | { readonly refused: string }>;
  /** What to write instead of `state.backend: "s3"`. */
  readonly stateBackend: string;
  /** What to write instead of `ingress.kind: "alb"`. */
  readonly gatewayApi: string;
  /** The sections only another cloud has ("gcp" on Azure, "azure" on GCP), with the cloud they belong to. */
  readonly foreignSections: Record<string, string>;
}

/** A problem at a field of an entry: the path, the value, and the end of "expected ...". */
export interface FieldProblem {
  readonly path: string[];
  readonly value: unknown;
  readonly message: string;
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * The AWS-only fields (and another cloud's sections) an entry of this cloud (merged with `shared`) carries, each
 * with the message to report, and the input without them (so each is reported once, as AWS-only, not again as an
 * unknown key). Those that come from `shared` (`fromShared`) are left out without a problem: they are the AWS
 * environments' common settings.
 */
export function refusedFields(
  merged: Record<string, unknown>,
  fromShared: (path: readonly string[]) => boolean,
  cloud: CloudRefusals,
): { problems: FieldProblem[]; rest: Record<string, unknown>; covered: string[][] } {
  const rest = structuredClone(merged);
  const problems: FieldProblem[] = [];
  // Sections whose other problems follow from an AWS-only value already reported (an S3 state's bucket and key).
  const covered: string[][] = [];
  const leaveOut = (path: readonly string[]) => {
    const parent = valueAt(rest, path.slice(0, -1)) as Record<string, unknown> | undefined;
    if (parent) delete parent[path[path.length - 1]];
  };
  const report = (path: string[], value: unknown, why: string | { readonly refused: string }) => {
    // `shared` holds what the environments have in common: in a configuration of several clouds, an AWS-only value
    // there is common to the AWS environments and means nothing on this one, so it is left out, not refused
    // (a fork adding an environment on another cloud does not have to move its AWS settings out of shared).
    // Written in the entry itself, it is a mistake and refused.
    if (!fromShared(path))
      problems.push({
        path,
        value,
        message:
          typeof why === "string"
            ? `no ${path.join(".")} on ${cloud.environment}: it is an AWS-only option; write ${why} instead`
            : `no ${path.join(".")} on ${cloud.environment}: ${why.refused}`,
      });
    leaveOut(path);
  };
  for (const [field, instead] of Object.entries(cloud.awsOnlyFields)) {
    const path = field.split(".");
    const value = valueAt(merged, path);
    if (value !== undefined) report(path, value, instead);
  }
  for (const [section, owner] of Object.entries(cloud.foreignSections)) {
    const value = valueAt(merged, [section]);
    if (value === undefined) continue;
    if (!fromShared([section]))
      problems.push({
        path: [section],
        value,
        message: `no ${section} on ${cloud.environment}: it is the ${owner} section (an environment with cloud: "${section}")`,
      });
    leaveOut([section]);
  }
  const state = valueAt(merged, ["state", "backend"]);
  if (state === "s3") {
    report(["state", "backend"], state, cloud.stateBackend);
    covered.push(["state"]);
  }
  const ingressKind = valueAt(merged, ["ingress", "kind"]);
  if (ingressKind === "alb") report(["ingress", "kind"], ingressKind, cloud.gatewayApi);
  const secretSource = valueAt(merged, ["auth", "clientSecret", "source"]);
  if (secretSource === "secrets-manager")
    report(["auth", "clientSecret", "source"], secretSource, '"kubernetes" (a Secret an operator or External Secrets creates)');
  // A ci section only in `shared` is the AWS environments' (their repository and roles): an environment on
  // another cloud gets CI identities only from a ci section of its own (it needs its cloud's ids anyway).
  if (valueAt(merged, ["ci"]) !== undefined && fromShared(["ci"])) delete rest.ci;
  return { problems, rest, covered };
}

/** An EKS cluster's service-account token issuer (`aws eks describe-cluster --query cluster.identity.oidc.issuer`). */
const EKS_ISSUER = /^https:\/\/oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//;

/**
 * An enabled training section on this cloud: the AWS environments' own cross-section rules (config/training.ts:
 * a known model, the pipeline's identity and steps, the Argo UI's name, namespaces of its own), and the issuer of
 * the pipeline's tokens, which is this cloud's cluster's: an EKS issuer (the AWS fixtures' and examples') is
 * AWS-only. `clusterIssuer` says where this cloud's cluster shows its own.
 */
export function cloudTrainingProblems(
  env: Parameters<typeof trainingProblems>[0],
  cloud: CloudRefusals,
  clusterIssuer: string,
): { path: (string | number)[]; message: string }[] {
  const out = trainingProblems(env);
  const issuer = env.training.enabled ? env.training.identity?.issuerUrl : undefined;
  if (issuer !== undefined && EKS_ISSUER.test(issuer))
    out.push({
      path: ["training", "identity", "issuerUrl"],
      message: `the cluster's own issuer, ${clusterIssuer}: an EKS issuer is AWS-only and no token of ${cloud.environment}'s cluster carries it`,
    });
  return out;
}
