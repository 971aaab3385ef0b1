/**
 * Google Cloud access for GitHub Actions without a service account key (GitHub OIDC through Workload Identity
 * Federation), the GCP counterpart of constructs/ci-roles:
 *
 * - a Workload Identity pool with one OIDC provider for `https://token.actions.githubusercontent.com`. GitHub
 *   signs every organization's tokens with that one issuer, so Google requires an attribute condition on a
 *   GitHub provider (https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines,
 *   and google-github-actions/auth's docs/SECURITY_CONSIDERATIONS.md): this one accepts only tokens whose
 *   `repository` claim is the configured repository and whose `sub` is one of the subjects below, and maps
 *   `google.subject` from the token's `sub`;
 * - a plan service account (read-only): pull-request plans and the drift check. Only the principals
 *   `repo:<owner>/<repo>:pull_request` and `repo:<owner>/<repo>:ref:refs/heads/main` may act as it
 *   (roles/iam.workloadIdentityUser on the account, to each exact subject). Predefined read-only project roles
 *   for what a refresh reads (GCP_READ_PROJECT_ROLES, IAM policies included; no basic role), a custom role reading the cluster's Secrets (a
 *   refresh reads them; they are in the state anyway), the state objects (read, listing under the state prefix)
 *   and writing saved plan files under `<planPrefix>/` of the state bucket. It takes no state lock: the
 *   workflows plan with `-lock=false`, as on AWS, and a pull request must not be able to remove the lock of an
 *   apply in progress;
 * - a deploy service account: applies a reviewed plan. Only `repo:<owner>/<repo>:environment:<deployEnvironment>`
 *   may act as it. Project roles for what the stack manages (Cloud SQL, Cloud KMS, Artifact Registry, service
 *   accounts, the GKE cluster's objects), Cloud Storage administration only on the stack's own buckets (an IAM
 *   condition on their names), the state objects (read, write, lock) and the saved plan files (read).
 *
 * Everything here is applied by an administrator (`npm run bootstrap -- <env>`), never by the deploy account:
 * it holds no role on the pool, on project IAM or on the state bucket's IAM policy.
 *
 * No grant names a basic role (MLF-GCP-2) or a public member (MLF-GCP-1).
 */
import { Construct } from "constructs";
import { IamWorkloadIdentityPool } from "@cdktf/provider-google/lib/iam-workload-identity-pool";
import { IamWorkloadIdentityPoolProvider } from "@cdktf/provider-google/lib/iam-workload-identity-pool-provider";
import { ProjectIamCustomRole } from "@cdktf/provider-google/lib/project-iam-custom-role";
import { ProjectIamMember } from "@cdktf/provider-google/lib/project-iam-member";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { ServiceAccountIamMember } from "@cdktf/provider-google/lib/service-account-iam-member";
import { StorageBucketIamMember } from "@cdktf/provider-google/lib/storage-bucket-iam-member";
import { gcpProjectIdProblem, serviceAccountIdProblem, workloadIdentityIdProblem } from "../core/gcp-limits";
import { PropError } from "../core/prop-error";
import { prefixConditions } from "../gke-workload-identity";

/** GitHub Actions' OIDC issuer. */
export const GITHUB_ISSUER_URI = "https://token.actions.githubusercontent.com";

/**
 * What `terraform plan` reads of the project, as predefined read-only roles (no basic role: roles/viewer reads
 * every service of the project): the data sources (project, network, cluster), a refresh of every resource type
 * the GCP stack manages (stacks/gcp-stack.ts) and their IAM policies. Both accounts have them.
 */
export const GCP_READ_PROJECT_ROLES: readonly string[] = [
  // data google_project
  "roles/browser",
  // data google_compute_network
  "roles/compute.networkViewer",
  // data google_container_cluster, and the Kubernetes objects but Secrets (GKE maps IAM onto the Kubernetes API)
  "roles/container.viewer",
  // IAM policies of the buckets, keys, repositories, service accounts and project; custom roles
  "roles/iam.securityReviewer",
  "roles/iam.serviceAccountViewer",
  "roles/iam.workloadIdentityPoolViewer",
  "roles/storage.bucketViewer",
  "roles/cloudkms.viewer",
  "roles/cloudsql.viewer",
  "roles/artifactregistry.reader",
];

/** The deploy account's project roles beyond reading: what the GCP stack's resources need (stacks/gcp-stack.ts). */
export const GCP_DEPLOY_PROJECT_ROLES: readonly string[] = [
  "roles/cloudsql.admin",
  "roles/cloudkms.admin",
  "roles/artifactregistry.admin",
  // The workloads' service accounts and their Workload Identity bindings.
  "roles/iam.serviceAccountAdmin",
  // The Kubernetes half: namespaces, RBAC of the charts, Secrets.
  "roles/container.admin",
];

/** The project roles of the plan account (read-only). */
export const GCP_PLAN_PROJECT_ROLES: readonly string[] = GCP_READ_PROJECT_ROLES;

/** What a refresh of the Kubernetes half reads beyond roles/container.viewer: the Secrets the stack manages (Helm's releases too). */
export const GCP_PLAN_SECRET_PERMISSIONS: readonly string[] = ["container.secrets.get", "container.secrets.list"];

/** Where the Terraform state lives (the gcs backend), for the accounts' access to it. */
export interface GcpCiStateAccess {
  /** The state bucket (created by the bootstrap, in the environment's project). Required. */
  readonly bucket: string;
  /** The state's object prefix (the backend's `prefix`, `{env}` replaced), without leading or trailing '/'. Required. */
  readonly prefix: string;
  /** Prefix (no trailing '/') under which the plan account saves plan files for the deploy job. Required. */
  readonly planPrefix: string;
}

/** Props of {@link GcpCiIdentities}. */
export interface GcpCiIdentitiesProps {
  /** The Google Cloud project the pool, the accounts and their roles live in. Required. */
  readonly projectId: string;
  /** The GitHub repository, "owner/name": the only one whose tokens the provider accepts. Required. */
  readonly repository: string;
  /** The Workload Identity pool's id (4-32 characters). Required. */
  readonly poolId: string;
  /** The provider's id in the pool. @default "github" */
  readonly providerId?: string;
  /** The plan service account's id. Required. */
  readonly planServiceAccountId: string;
  /** The deploy service account's id. Required. */
  readonly deployServiceAccountId: string;
  /** The GitHub Environment whose jobs may act as the deploy account. Required. */
  readonly deployEnvironment: string;
  /** The branch whose pushes and schedules may act as the plan account (drift check, plan of a merge). @default "main" */
  readonly mainBranch?: string;
  /** The Terraform state in Cloud Storage; without it (local state) the accounts get no state access. @default none */
  readonly state?: GcpCiStateAccess;
  /** Cloud Storage buckets the stack creates (exact names): the deploy account administers these and no other. @default [] */
  readonly managedBucketNames?: readonly string[];
  /** The deploy account's project roles. @default GCP_DEPLOY_PROJECT_ROLES */
  readonly deployProjectRoles?: readonly string[];
  /** Id of the custom role reading the cluster's Secrets for the plan account (letters, digits, '_' and '.'). Required. */
  readonly planSecretsRoleId: string;
}

const REPOSITORY = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;
const BASIC_ROLES = ["roles/owner", "roles/editor", "roles/viewer"];

/** The exact GitHub subjects each account accepts. */
export function githubSubjects(repository: string, deployEnvironment: string, mainBranch = "main"): { plan: string[]; deploy: string[] } {
  return {
    plan: [`repo:${repository}:pull_request`, `repo:${repository}:ref:refs/heads/${mainBranch}`],
    deploy: [`repo:${repository}:environment:${deployEnvironment}`],
  };
}

/**
 * The provider's attribute condition: tokens of `repository` only, and of the subjects the accounts are bound to
 * only (a token of another branch or GitHub Environment of the repository is refused by the pool itself).
 */
export function githubCondition(repository: string, subjects: readonly string[]): string {
  return `assertion.repository == "${repository}" && (${subjects.map((s) => `assertion.sub == "${s}"`).join(" || ")})`;
}

/** A Workload Identity pool for GitHub Actions, and the plan and deploy service accounts its tokens may act as. */
export class GcpCiIdentities extends Construct {
  readonly pool: IamWorkloadIdentityPool;
  readonly provider: IamWorkloadIdentityPoolProvider;
  readonly planServiceAccount: ServiceAccount;
  readonly deployServiceAccount: ServiceAccount;

  constructor(scope: Construct, id: string, props: GcpCiIdentitiesProps) {
    super(scope, id);
    const p = gcpProjectIdProblem(props.projectId);
    if (p) throw new PropError(this, "projectId", props.projectId, p);
    if (!REPOSITORY.test(props.repository))
      throw new PropError(this, "repository", props.repository, '"owner/name" of a GitHub repository: your fork\'s');
    const providerId = props.providerId ?? "github";
    for (const [field, value, what] of [
      ["poolId", props.poolId, "pool"],
      ["providerId", providerId, "provider"],
    ] as const) {
      const problem = workloadIdentityIdProblem(value, what);
      if (problem) throw new PropError(this, field, value, problem);
    }
    for (const field of ["planServiceAccountId", "deployServiceAccountId"] as const) {
      const problem = serviceAccountIdProblem(props[field]);
      if (problem) throw new PropError(this, field, props[field], problem);
    }
    if (props.planServiceAccountId === props.deployServiceAccountId)
      throw new PropError(this, "deployServiceAccountId", props.deployServiceAccountId, "another account than the plan account");
    if (!/^[A-Za-z0-9_.]{3,64}$/.test(props.planSecretsRoleId))
      throw new PropError(this, "planSecretsRoleId", props.planSecretsRoleId, "a custom role id: 3-64 letters, digits, '_' and '.'");
    const deployRoles = props.deployProjectRoles ?? GCP_DEPLOY_PROJECT_ROLES;
    for (const role of deployRoles)
      if (BASIC_ROLES.includes(role))
        throw new PropError(
          this,
          "deployProjectRoles",
          role,
          "predefined roles for what the stack manages, never a basic role (roles/owner, roles/editor, roles/viewer)",
        );
    const st = props.state;
    if (st)
      for (const field of ["prefix", "planPrefix"] as const)
        if (st[field] === "" || st[field].startsWith("/") || st[field].endsWith("/"))
          throw new PropError(this, `state.${field}`, st[field], "an object prefix without leading or trailing '/'");

    const subjects = githubSubjects(props.repository, props.deployEnvironment, props.mainBranch);
    this.pool = new IamWorkloadIdentityPool(this, "pool", {
      project: props.projectId,
      workloadIdentityPoolId: props.poolId,
      displayName: "GitHub Actions",
      description: `GitHub Actions of ${props.repository}`,
    });
    this.provider = new IamWorkloadIdentityPoolProvider(this, "github", {
      project: props.projectId,
      workloadIdentityPoolId: this.pool.workloadIdentityPoolId,
      workloadIdentityPoolProviderId: providerId,
      displayName: "GitHub",
      description: `Tokens of ${props.repository} only`,
      attributeMapping: { "google.subject": "assertion.sub", "attribute.repository": "assertion.repository" },
      attributeCondition: githubCondition(props.repository, [...subjects.plan, ...subjects.deploy]),
      oidc: { issuerUri: GITHUB_ISSUER_URI },
    });

    const account = (cid: string, accountId: string, description: string, subs: string[]) => {
      const sa = new ServiceAccount(this, cid, { project: props.projectId, accountId, displayName: accountId, description });
      subs.forEach((sub, i) => {
        new ServiceAccountIamMember(this, `${cid}_github_${i}`, {
          serviceAccountId: sa.name,
          role: "roles/iam.workloadIdentityUser",
          // The one principal of a GitHub subject (google.subject is mapped from `sub`), never a set of them.
          member: `principal://iam.googleapis.com/${this.pool.name}/subject/${sub}`,
          dependsOn: [this.provider],
        });
      });
      return sa;
    };
    this.planServiceAccount = account(
      "plan",
      props.planServiceAccountId,
      `Read-only Terraform plan and drift check from ${props.repository}`,
      subjects.plan,
    );
    this.deployServiceAccount = account(
      "deploy",
      props.deployServiceAccountId,
      `Terraform apply from ${props.repository}, GitHub Environment ${props.deployEnvironment}`,
      subjects.deploy,
    );
    const plan = `serviceAccount:${this.planServiceAccount.email}`;
    const deploy = `serviceAccount:${this.deployServiceAccount.email}`;

    // ── plan: read-only project roles and the cluster's Secrets ──
    for (const role of GCP_PLAN_PROJECT_ROLES)
      new ProjectIamMember(this, `plan_${role.replace(/\W/g, "_")}`, { project: props.projectId, role, member: plan });
    const secrets = new ProjectIamCustomRole(this, "plan_secrets_role", {
      project: props.projectId,
      roleId: props.planSecretsRoleId,
      title: "CI plan: read Kubernetes Secrets",
      description: `What a Terraform refresh reads of the cluster beyond roles/container.viewer (${props.repository})`,
      permissions: [...GCP_PLAN_SECRET_PERMISSIONS],
    });
    new ProjectIamMember(this, "plan_secrets", { project: props.projectId, role: secrets.name, member: plan });

    // ── deploy: what the stack manages ──
    for (const role of [...new Set([...GCP_READ_PROJECT_ROLES, ...deployRoles])])
      new ProjectIamMember(this, `deploy_${role.replace(/\W/g, "_")}`, { project: props.projectId, role, member: deploy });
    const buckets = [...new Set(props.managedBucketNames ?? [])];
    if (buckets.length > 0)
      new ProjectIamMember(this, "deploy_stack_buckets", {
        project: props.projectId,
        role: "roles/storage.admin",
        member: deploy,
        condition: {
          title: "stack-buckets",
          description: `The stack's own buckets only: ${buckets.join(", ")}`,
          // A bucket and its objects; a bucket being created is named the same way.
          expression: buckets
            .map((b) => `resource.name == "projects/_/buckets/${b}" || resource.name.startsWith("projects/_/buckets/${b}/")`)
            .join(" || "),
        },
      });

    // ── the state: its objects, and the saved plan files ──
    if (st) {
      const state = prefixConditions(st.bucket, st.prefix);
      const plans = prefixConditions(st.bucket, st.planPrefix).objects;
      const grant = (cid: string, role: string, member: string, title: string, expression: string) =>
        new StorageBucketIamMember(this, cid, { bucket: st.bucket, role, member, condition: { title, expression } });
      grant("plan_state_objects", "roles/storage.objectViewer", plan, "state-objects", state.objects);
      grant("plan_state_listing", "roles/storage.objectViewer", plan, "state-listing", state.listing);
      grant("plan_save_plans", "roles/storage.objectCreator", plan, "saved-plans", plans);
      grant("deploy_state_objects", "roles/storage.objectUser", deploy, "state-objects", state.objects);
      grant("deploy_state_listing", "roles/storage.objectViewer", deploy, "state-listing", state.listing);
      grant("deploy_read_plans", "roles/storage.objectViewer", deploy, "saved-plans", plans);
    }
  }
}
