/**
 * The AWS calls the pipelines make outside Terraform, with the role that makes them: every `aws` CLI
 * command, image push and pull of the workflows (.github/workflows) and their scripts (scripts/ci), and
 * what the training workflow's pods call with the training role (Argo's S3 artifact driver). Each row names
 * the file and the exact text of the command (a test checks that the text is still there, and that every
 * `aws <service> <command>` of those files has a row), and the IAM actions the call needs, from the Service
 * Authorization Reference and the tool's own documentation (sources per row).
 *
 * test/policies/iam-pipeline-roles.test.ts evaluates each row against the synthesized role.
 */
import type { Request } from "./evaluator";
import type { StateLocation } from "../../config/state";

/** What a row's calls are computed from. */
export interface PipelineContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** The stack's name (`<project>-<env>`): the model repositories are `<stack>/<model>`. */
  readonly stack: string;
  /** The models the environment serves. */
  readonly models: readonly string[];
  readonly state?: StateLocation;
  /** The state key prefix of the plan files (constructs/ci-roles/from-config.ts planFilesPrefix). */
  readonly planPrefix: string;
  /** The artifact bucket and Argo's key prefix in it (training). */
  readonly artifactBucket: string;
  readonly argoPrefix: string;
  /** The artifact bucket's KMS key. */
  readonly artifactKeyArn: string;
  /** The EKS cluster's name. */
  readonly clusterName: string;
  /**
   * Other environments' repositories the release job copies this environment's released images from
   * (config/image-copies.ts), possibly in other accounts and regions. @default none
   */
  readonly imageSources?: readonly string[];
}

/** The role a call is made with. */
export type PipelineRole = "plan" | "deploy" | "imagePush" | "training";

export interface PipelineRow {
  readonly role: PipelineRole;
  /** What it is, in a few words. */
  readonly what: string;
  /** The file that makes the call, and text of it that must stay there. */
  readonly file: string;
  readonly contains: string;
  /** Where the IAM mapping comes from. */
  readonly sources: readonly string[];
  /** The requests, for one environment. */
  readonly calls: (c: PipelineContext) => Request[];
}

const SAR = (service: string) => `https://docs.aws.amazon.com/service-authorization/latest/reference/list_${service}.html`;
const ECR_PUSH = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html";
const ECR_PULL = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html";
const ECR_AUTH = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html";
const repo = (c: PipelineContext, model: string) => `arn:${c.partition}:ecr:${c.region}:${c.account}:repository/${c.stack}/${model}`;
const perModel = (c: PipelineContext, actions: readonly string[], extra: Request["context"] = {}): Request[] =>
  c.models.flatMap((m) => actions.map((action) => ({ action, resource: repo(c, m), context: extra })));
/** The state key, used by S3 on the caller's behalf. */
function stateKey(c: PipelineContext, actions: readonly string[]): Request[] {
  const s = c.state;
  if (!s) return [];
  const arn = s.kmsAlias ? `arn:${s.partition}:kms:${s.region}:${s.account}:key/00000000-0000-0000-0000-000000000000` : s.kmsKeyArn;
  return actions.map((action) => ({
    action,
    resource: arn,
    context: { "kms:ViaService": `s3.${s.region}.amazonaws.com`, ...(s.kmsAlias ? { "kms:ResourceAliases": [s.kmsAlias] } : {}) },
  }));
}
const planFile = (c: PipelineContext) =>
  c.state ? `arn:${c.state.partition}:s3:::${c.state.bucket}/${c.planPrefix}/123-1.tfplan` : "none";

const TF_S3 = "https://developer.hashicorp.com/terraform/language/backend/s3";
const stateObject = (c: PipelineContext, suffix = "") =>
  c.state ? `arn:${c.state.partition}:s3:::${c.state.bucket}/${c.state.key}${suffix}` : "none";
const stateBucketArn = (c: PipelineContext) => (c.state ? `arn:${c.state.partition}:s3:::${c.state.bucket}` : "none");

export const PIPELINE_ACTIONS: readonly PipelineRow[] = [
  // ── Terraform's S3 backend (every plan and apply): the state object and, when applying, its lock file ──
  {
    role: "plan",
    what: "read the state (plan and drift run with -lock=false)",
    file: "scripts/ci/terraform-plan.sh",
    contains: "plan -input=false -lock=false",
    sources: [TF_S3, "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#aws-managed-customer-managed-keys"],
    calls: (c) =>
      c.state
        ? [
            { action: "s3:ListBucket", resource: stateBucketArn(c) },
            { action: "s3:GetObject", resource: stateObject(c) },
            ...stateKey(c, ["kms:Decrypt"]),
          ]
        : [],
  },
  {
    role: "deploy",
    what: "read and write the state, take and release the lock file (use_lockfile)",
    file: "stacks/providers.ts",
    contains: 'backend.addOverride("use_lockfile", true)',
    sources: [TF_S3, "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#aws-managed-customer-managed-keys"],
    calls: (c) =>
      c.state
        ? [
            { action: "s3:ListBucket", resource: stateBucketArn(c) },
            ...["s3:GetObject", "s3:PutObject"].map((action) => ({ action, resource: stateObject(c) })),
            ...["s3:GetObject", "s3:PutObject", "s3:DeleteObject"].map((action) => ({ action, resource: stateObject(c, ".tflock") })),
            ...stateKey(c, ["kms:Decrypt", "kms:GenerateDataKey"]),
          ]
        : [],
  },

  // ── deploy.yml: the plan file travels through the state bucket, encrypted with the state key (scripts/ci/plan-store.sh) ──
  {
    role: "plan",
    what: "save the reviewed plan file",
    file: "scripts/ci/plan-store.sh",
    contains:
      'aws s3 cp --only-show-errors --region "${STATE_REGION:?}" --sse aws:kms --sse-kms-key-id "${STATE_KMS_KEY:?}" "$from" "$store/$to"',
    sources: [SAR("amazons3"), "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#require-sse-kms"],
    calls: (c) => (c.state ? [{ action: "s3:PutObject", resource: planFile(c) }, ...stateKey(c, ["kms:GenerateDataKey"])] : []),
  },
  {
    role: "deploy",
    what: "fetch the reviewed plan file",
    file: "scripts/ci/plan-store.sh",
    contains: 'aws s3 cp --only-show-errors --region "${STATE_REGION:?}" "$store/$from" "$to"',
    sources: [SAR("amazons3"), "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"],
    calls: (c) => (c.state ? [{ action: "s3:GetObject", resource: planFile(c) }, ...stateKey(c, ["kms:Decrypt"])] : []),
  },

  // ── release-model.yml, image job: the image-push role of the first environment ──
  {
    role: "imagePush",
    what: "log in to ECR",
    file: ".github/workflows/release-model.yml",
    contains: "uses: aws-actions/amazon-ecr-login@v2",
    sources: [ECR_PUSH, SAR("amazonelasticcontainerregistry")],
    // Only an environment that serves a model is ever the image job's target (and its role has push policies).
    calls: (c) => (c.models.length > 0 ? [{ action: "ecr:GetAuthorizationToken", resource: "*" }] : []),
  },
  {
    role: "imagePush",
    what: "push the image by digest (layers, manifests, the SBOM and provenance attestations)",
    file: ".github/workflows/release-model.yml",
    contains: "docker buildx build --build-arg SOURCE_DATE_EPOCH=0",
    sources: [ECR_PUSH, SAR("amazonelasticcontainerregistry")],
    calls: (c) =>
      perModel(c, [
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
      ]),
  },
  {
    role: "imagePush",
    what: "describe the pushed digest (the scan gate refuses an image index)",
    file: ".github/workflows/release-model.yml",
    contains: 'aws ecr describe-images --repository-name "$REPOSITORY"',
    sources: ["https://docs.aws.amazon.com/cli/latest/reference/ecr/describe-images.html", SAR("amazonelasticcontainerregistry")],
    calls: (c) => perModel(c, ["ecr:DescribeImages"]),
  },
  {
    role: "imagePush",
    what: "wait for the scan (the waiter polls DescribeImageScanFindings)",
    file: ".github/workflows/release-model.yml",
    contains: "aws ecr wait image-scan-complete",
    sources: ["https://docs.aws.amazon.com/cli/latest/reference/ecr/wait/image-scan-complete.html", SAR("amazonelasticcontainerregistry")],
    calls: (c) => perModel(c, ["ecr:DescribeImageScanFindings"]),
  },
  {
    role: "imagePush",
    what: "read the scan findings for the gate",
    file: ".github/workflows/release-model.yml",
    contains: "aws ecr describe-image-scan-findings --repository-name",
    sources: [SAR("amazonelasticcontainerregistry")],
    calls: (c) => perModel(c, ["ecr:DescribeImageScanFindings"]),
  },

  // ── release-environment.yml: the deploy role of each environment the release goes to ──
  {
    role: "deploy",
    what: "log in to the environment's registry",
    file: ".github/workflows/release-environment.yml",
    contains: 'aws ecr get-login-password | docker login --username AWS --password-stdin "${DEST_REPOSITORY%%/*}"',
    sources: [SAR("amazonelasticcontainerregistry")],
    calls: () => [{ action: "ecr:GetAuthorizationToken", resource: "*" }],
  },
  {
    // GetAuthorizationToken is the caller's own (no resource-level permission): its token is good for any
    // registry the caller may reach, in the region that issued it, so the source's login asks the source's region.
    role: "deploy",
    what: "log in to the source's registry (a token of the source's region)",
    file: ".github/workflows/release-environment.yml",
    contains: 'aws ecr get-login-password --region "$source_region" | docker login --username AWS --password-stdin "$source_registry"',
    sources: [
      SAR("amazonelasticcontainerregistry"),
      ECR_AUTH,
      "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html",
    ],
    calls: (c) => (c.imageSources ?? []).map(() => ({ action: "ecr:GetAuthorizationToken", resource: "*" })),
  },
  {
    role: "deploy",
    what: "copy the released image into the environment's repository (same digest)",
    file: ".github/workflows/release-environment.yml",
    contains: 'skopeo copy --preserve-digests "docker://$SOURCE@$DIGEST" "docker://$DEST_REPOSITORY:$tag"',
    sources: [ECR_PUSH, ECR_PULL, SAR("amazonelasticcontainerregistry")],
    calls: (c) =>
      perModel(c, [
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
      ]),
  },
  {
    // The source side of the same copy: the manifest and the layers, read from the repository the image was
    // pushed to, in its own account (its repository policy must admit the caller: isAllowedOn). No KMS call of
    // the caller's: ECR decrypts the layers through the grant it holds on the repository's key.
    role: "deploy",
    what: "read the released image from its source repository (another environment's, maybe another account's)",
    file: ".github/workflows/release-environment.yml",
    contains: 'skopeo copy --preserve-digests "docker://$SOURCE@$DIGEST"',
    sources: [
      ECR_PULL,
      SAR("amazonelasticcontainerregistry"),
      "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonEC2ContainerRegistryPullOnly.html",
      "https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html",
    ],
    calls: (c) =>
      (c.imageSources ?? []).flatMap((repository) =>
        ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"].map((action) => ({ action, resource: repository })),
      ),
  },
  {
    role: "deploy",
    what: "check the copy arrived under the same digest",
    file: ".github/workflows/release-environment.yml",
    contains: 'aws ecr describe-images --repository-name "${DEST_REPOSITORY#*/}"',
    sources: ["https://docs.aws.amazon.com/cli/latest/reference/ecr/describe-images.html", SAR("amazonelasticcontainerregistry")],
    calls: (c) => perModel(c, ["ecr:DescribeImages"]),
  },
  {
    role: "deploy",
    what: "read the released manifest to tag it (release tag: no lifecycle rule selects it)",
    file: "scripts/ci/release-tag.sh",
    contains: 'aws ecr batch-get-image --repository-name "$repository"',
    sources: ["https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html", SAR("amazonelasticcontainerregistry")],
    calls: (c) => perModel(c, ["ecr:BatchGetImage"]),
  },
  {
    role: "deploy",
    what: "put the same manifest under the release tag (digest unchanged)",
    file: "scripts/ci/release-tag.sh",
    contains: 'aws ecr put-image --repository-name "$repository"',
    sources: ["https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html", SAR("amazonelasticcontainerregistry")],
    calls: (c) => perModel(c, ["ecr:PutImage"]),
  },
  {
    role: "deploy",
    what: "kubeconfig for the rollout check (DescribeCluster; kubectl then authenticates through the deploy role's access entry)",
    file: "scripts/ci/release-verify.sh",
    contains: "aws eks update-kubeconfig --name",
    sources: ["https://docs.aws.amazon.com/cli/latest/reference/eks/update-kubeconfig.html", SAR("amazonelastickubernetesservice")],
    calls: (c) => [{ action: "eks:DescribeCluster", resource: `arn:${c.partition}:eks:${c.region}:${c.account}:cluster/${c.clusterName}` }],
  },

  // ── the training workflow's pods (Argo's S3 artifact driver, with the training role) ──
  {
    role: "training",
    what: "archive a step's log and outputs (archiveLogs, keyFormat <prefix>/<workflow>/<pod>)",
    file: "constructs/training/index.ts",
    contains: '"archiveLogs: true"',
    sources: [
      "https://argo-workflows.readthedocs.io/en/latest/configure-artifact-repository/#aws-s3-irsa",
      SAR("amazons3"),
      SAR("awskeymanagementservice"),
    ],
    calls: (c): Request[] => [
      { action: "s3:PutObject", resource: `arn:${c.partition}:s3:::${c.artifactBucket}/${c.argoPrefix}/train-x/train-x-123/main.log` },
      { action: "kms:GenerateDataKey", resource: c.artifactKeyArn, context: { "kms:ViaService": `s3.${c.region}.amazonaws.com` } },
    ],
  },
  {
    role: "training",
    what: "read an input artifact, list a directory artifact",
    file: "constructs/training/index.ts",
    contains: "useSDKCreds: true",
    sources: ["https://argo-workflows.readthedocs.io/en/latest/configure-artifact-repository/#aws-s3-irsa", SAR("amazons3")],
    calls: (c): Request[] => [
      { action: "s3:GetObject", resource: `arn:${c.partition}:s3:::${c.artifactBucket}/${c.argoPrefix}/train-x/train-x-123/model.tgz` },
      {
        action: "s3:ListBucket",
        resource: `arn:${c.partition}:s3:::${c.artifactBucket}`,
        context: { "s3:prefix": `${c.argoPrefix}/train-x/` },
      },
      { action: "kms:Decrypt", resource: c.artifactKeyArn, context: { "kms:ViaService": `s3.${c.region}.amazonaws.com` } },
    ],
  },
];
