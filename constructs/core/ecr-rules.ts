/**
 * How a model's image repository keeps what is deployed, and Amazon ECR's rules for lifecycle policies,
 * written down once with their sources as pure functions. No resources, no provider imports.
 *
 * The release pipeline pushes each candidate image by digest, untagged (release-model.yml); when an
 * environment releases it, scripts/ci/release-tag.sh adds the tag {@link releaseTag} (`release-v<version>-
 * <12 hex of the digest>`) to that digest in the environment's repository. The lifecycle policy expires
 * untagged images beyond a count and, optionally, images with other tag prefixes a team pushes by hand;
 * no rule selects a release tag, so the digest a release is pinned to and every earlier release a rollback
 * may return to never expire.
 */
import { PropError } from "../core/prop-error";

/** Where each rule below comes from. */
export const ECR_SOURCES = {
  lifecycle:
    'https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html ("Lifecycle policy evaluation rules": an image is expired by exactly one or zero rules; only one rule may select untagged images; the set of rules must contain a unique set of tag prefixes; with tagPrefixList an image matches if all prefixes match any of its tags; tagStatus any matches every image) and lifecycle_policy_syntax (countNumber: a positive integer; countUnit only with sinceImagePushed)',
  indexScan:
    "An image index (what buildx pushes with SBOM or provenance attestations: application/vnd.oci.image.index.v1+json) is not scanned by ECR's basic scanning (\"An artifact with media type 'application/vnd.oci.image.index.v1+json' cannot be scanned\": https://github.com/moby/buildkit/issues/3499, https://github.com/alexjurkiewicz/ecr-scan-image/issues/43)",
  imagetools:
    "docker buildx imagetools create wraps a single image manifest into a new manifest list (a new digest; util/imagetools/create.go returns the source bytes unchanged only for an index): copies between repositories use skopeo copy --preserve-digests instead",
} as const;

/** The prefix of the tags releases add; no lifecycle rule may select it. */
export const RELEASE_TAG_PREFIX = "release-";

/** The tag an environment's release adds to the released digest in its repository. */
export function releaseTag(version: string, imageDigest: string): string {
  if (!/^[1-9]\d*$/.test(version)) throw new PropError("releaseTag", "version", version, 'a registered model version such as "3"');
  if (!/^sha256:[a-f0-9]{64}$/.test(imageDigest)) throw new PropError("releaseTag", "imageDigest", imageDigest, '"sha256:<64 hex>"');
  return `${RELEASE_TAG_PREFIX}v${version}-${imageDigest.slice(7, 19)}`;
}

/** One rule of an ECR lifecycle policy (the fields these stacks use). */
export interface EcrLifecycleRule {
  readonly rulePriority: number;
  readonly description?: string;
  readonly selection: {
    readonly tagStatus: "tagged" | "untagged" | "any";
    readonly tagPrefixList?: readonly string[];
    readonly countType: "imageCountMoreThan" | "sinceImagePushed";
    readonly countUnit?: "days";
    readonly countNumber: number;
  };
  readonly action: { readonly type: "expire" };
}

/** The repository's retention: unreleased (untagged) images kept, and other tag prefixes with their counts. */
export interface ImageRetention {
  /** Untagged images kept (candidates pushed by digest and not released). */
  readonly untagged: number;
  /** Other tag prefixes a team pushes, each with how many of its images are kept. */
  readonly tagPrefixes?: Readonly<Record<string, number>>;
}

/**
 * Why a tag prefix may not have an expiring rule: it would select release tags (a prefix of the release
 * prefix, or one that starts with it). Undefined when it may.
 */
export function releaseTagOverlap(prefix: string): string | undefined {
  return RELEASE_TAG_PREFIX.startsWith(prefix) || prefix.startsWith(RELEASE_TAG_PREFIX)
    ? `a tag prefix that cannot match a release's tag ("${RELEASE_TAG_PREFIX}v<version>-<digest>"): "${prefix}" would expire released images, among them the digest a release pins and the ones a rollback returns to`
    : undefined;
}

/** The lifecycle rules of a model repository. */
export function lifecycleRules(retention: ImageRetention): EcrLifecycleRule[] {
  const rules: EcrLifecycleRule[] = [
    {
      rulePriority: 1,
      description: `unreleased images (pushed by digest, never tagged): keep the last ${retention.untagged}`,
      selection: { tagStatus: "untagged", countType: "imageCountMoreThan", countNumber: retention.untagged },
      action: { type: "expire" },
    },
  ];
  Object.entries(retention.tagPrefixes ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .forEach(([prefix, keep], i) =>
      rules.push({
        rulePriority: i + 2,
        description: `images tagged ${prefix}*: keep the last ${keep}`,
        selection: { tagStatus: "tagged", tagPrefixList: [prefix], countType: "imageCountMoreThan", countNumber: keep },
        action: { type: "expire" },
      }),
    );
  return rules;
}

/** What ECR would refuse in a lifecycle policy, and any rule that could expire a release tag. */
export function lifecyclePolicyProblems(rules: readonly EcrLifecycleRule[]): string[] {
  const problems: string[] = [];
  const priorities = rules.map((r) => r.rulePriority);
  if (new Set(priorities).size !== priorities.length) problems.push("rule priorities must be unique");
  if (rules.filter((r) => r.selection.tagStatus === "untagged").length > 1) problems.push("only one rule may select untagged images");
  const prefixes = rules.flatMap((r) => r.selection.tagPrefixList ?? []);
  if (new Set(prefixes).size !== prefixes.length) problems.push("the rules must contain a unique set of tag prefixes");
  for (const r of rules) {
    const s = r.selection;
    if (!Number.isInteger(s.countNumber) || s.countNumber < 1)
      problems.push(`rule ${r.rulePriority}: countNumber must be a positive whole number, got ${s.countNumber}`);
    if (s.tagStatus === "tagged" && (s.tagPrefixList ?? []).length === 0)
      problems.push(`rule ${r.rulePriority}: a tagged rule needs a tagPrefixList`);
    if ((s.countType === "sinceImagePushed") !== (s.countUnit === "days"))
      problems.push(`rule ${r.rulePriority}: countUnit "days" goes with sinceImagePushed, and only with it`);
    if (s.tagStatus === "any") problems.push(`rule ${r.rulePriority}: tagStatus "any" selects released images too`);
    for (const p of s.tagPrefixList ?? []) {
      const overlap = releaseTagOverlap(p);
      if (overlap) problems.push(`rule ${r.rulePriority}: ${overlap}`);
    }
  }
  return problems;
}

/**
 * The rule that may expire an image with these tags, by ECR's evaluation rules (the highest-priority rule
 * whose selection matches it; undefined: no rule ever expires it).
 */
export function ruleSelecting(rules: readonly EcrLifecycleRule[], tags: readonly string[]): EcrLifecycleRule | undefined {
  return [...rules]
    .sort((a, b) => a.rulePriority - b.rulePriority)
    .find((r) => {
      const s = r.selection;
      if (s.tagStatus === "any") return true;
      if (s.tagStatus === "untagged") return tags.length === 0;
      return tags.length > 0 && (s.tagPrefixList ?? []).every((p) => tags.some((t) => t.startsWith(p)));
    });
}
