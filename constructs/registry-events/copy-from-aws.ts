/**
 * How an AWS stack copies a channel secret into the events service's Secret: a Secrets Manager data source. One
 * small module per cloud, so that a stack loads its own cloud's provider classes only.
 */
import { DataAwsSecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-version";
import type { SecretValueReader } from ".";
import type { CloudSecretSource } from "./command";

/** The reader of a `secrets-manager` reference (the value is the secret's current string). */
export function awsSecretCopy(src: CloudSecretSource): SecretValueReader {
  // The configuration refuses another cloud's source on an AWS environment (config/events.ts secretSourceProblems).
  if (src.source !== "secrets-manager") throw new Error(`a "${src.source}" secret reference cannot be read by an AWS stack`);
  return (scope, id) => new DataAwsSecretsmanagerSecretVersion(scope, id, { secretId: src.secretArn }).secretString;
}
