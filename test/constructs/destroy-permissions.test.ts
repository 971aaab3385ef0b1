/**
 * `terraform destroy` of an environment works with the deploy role's own permissions: a bucket with
 * force_destroy is emptied first (every object version and delete marker: the provider's emptyBucket lists
 * versions and deletes by version id), and GitHub's OIDC provider can lose its tags.
 */
import { FORCE_DESTROY_BUCKET_ACTIONS } from "../../constructs/ci-roles";
import { configured, resourcesOf, SHIPPED, synthJson } from "../helpers/synth";

describe.each(SHIPPED)("the deploy role of %s", (env) => {
  const config = configured(env);
  const json = synthJson(config);
  const deploy = Object.values(resourcesOf(json, "aws_iam_role_policy")).find((p) => p.name === "deploy-iam");
  const statements = deploy ? (JSON.parse(deploy.policy).Statement as { Sid: string; Action: string[]; Resource: string | string[] }[]) : [];
  const forceDestroyed = Object.values(resourcesOf(json, "aws_s3_bucket")).filter((b) => b.force_destroy).map((b) => b.bucket as string);

  (config.ci ? test : test.skip)("may empty exactly the buckets that have force_destroy (object versions and delete markers)", () => {
    const empty = statements.find((s) => s.Sid === "EmptyForceDestroyBuckets");
    if (forceDestroyed.length === 0) {
      expect(empty).toBeUndefined();
      return;
    }
    expect(empty!.Action).toEqual(FORCE_DESTROY_BUCKET_ACTIONS);
    const resources = [empty!.Resource].flat();
    for (const b of forceDestroyed) expect(resources).toEqual(expect.arrayContaining([`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/*`]));
    expect(resources).toHaveLength(forceDestroyed.length * 2);
  });

  (config.ci && (config.ci.oidcProvider ?? "create") === "create" ? test : test.skip)("may untag GitHub's OIDC provider it creates (destroy and tag changes)", () => {
    expect(statements.find((s) => s.Sid === "GitHubOidcProvider")!.Action).toContain("iam:UntagOpenIDConnectProvider");
  });
});
