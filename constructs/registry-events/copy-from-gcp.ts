/**
 * How a GCP stack copies a channel secret into the events service's Secret: a Secret Manager data source
 * (google_secret_manager_secret_version), read with Terraform's own Google credentials.
 */
import { DataGoogleSecretManagerSecretVersion } from "@cdktf/provider-google/lib/data-google-secret-manager-secret-version";
import type { SecretValueReader } from ".";
import type { CloudSecretSource } from "./command";

/** The reader of a `secret-manager` reference. */
export function gcpSecretCopy(src: CloudSecretSource): SecretValueReader {
  // The configuration refuses another cloud's source on a GCP environment (config/events.ts secretSourceProblems).
  if (src.source !== "secret-manager") throw new Error(`a "${src.source}" secret reference cannot be read by a GCP stack`);
  // The full name is split: the secret may live in another project than the provider's.
  const [, project, secret] = /^projects\/([^/]+)\/secrets\/([^/]+)$/.exec(src.secret) ?? [];
  if (!project || !secret) throw new Error(`"${src.secret}" is not a Secret Manager secret's full name`);
  return (scope, id) =>
    new DataGoogleSecretManagerSecretVersion(scope, id, {
      project,
      secret,
      // Without a version the data source reads the latest one.
      ...(src.version === "latest" ? {} : { version: String(src.version) }),
    }).secretData;
}
