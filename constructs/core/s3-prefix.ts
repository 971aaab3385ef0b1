/**
 * The S3 key prefix rule, defined once for the configuration schema and every construct that takes a
 * prefix of the artifact bucket: one or more segments separated by '/', no leading or trailing '/', no
 * empty segment, and only S3's "safe characters" (letters, digits and ! - _ . * ' ( )). A prefix made of
 * them needs no encoding in a URL, an ARN, an IAM condition or a shell, and `<prefix>/*` in a policy
 * names exactly the objects under it.
 */

/** One segment: S3's safe characters. */
const SEGMENT = "[a-zA-Z0-9!_.*'()-]+";
/** One segment, or a Hive-style partition `key=value` (each side safe characters). */
const SEGMENT_OR_PARTITION = `${SEGMENT}(=${SEGMENT})?`;

/** A key prefix of safe characters, without leading or trailing '/': `mlartifacts`, `team/mlartifacts`. */
export const S3_KEY_PREFIX = new RegExp(`^${SEGMENT}(\\/${SEGMENT})*$`);

/**
 * The same, where a segment may also be a partition `key=value`: the inference log's layout
 * (`inference-logs/model=<name>/version=<v>/...`, written by the model server, read by the drift job).
 * '=' is not one of S3's safe characters, so it is accepted there only, once per segment, between two
 * non-empty sides; a prefix from the configuration never has one.
 */
export const PARTITIONED_S3_KEY_PREFIX = new RegExp(`^${SEGMENT_OR_PARTITION}(\\/${SEGMENT_OR_PARTITION})*$`);

/** True when `value` is a key prefix by the rule above (`partitions`: `key=value` segments allowed too). */
export function isS3KeyPrefix(value: string, options: { readonly partitions?: boolean } = {}): boolean {
  return (options.partitions ? PARTITIONED_S3_KEY_PREFIX : S3_KEY_PREFIX).test(value);
}
