/**
 * The S3 key prefix rule (constructs/core/s3-prefix.ts), defined once: the configuration schema and
 * every construct that takes a prefix use it, and only the inference log's partitioned layout has '='.
 */
import { isS3KeyPrefix, PARTITIONED_S3_KEY_PREFIX, S3_KEY_PREFIX } from "../../../constructs/core/s3-prefix";
import { configProblems } from "../../helpers/synth";

const GOOD = ["mlartifacts", "team-a/mlartifacts", "a.b_c(1)'!*", "x/y/z"];
const BAD = ["", "/mlartifacts", "mlartifacts/", "a//b", "a b", "a+b", "caf\u00e9", "a/../b?", "s3://b/p"];

describe("isS3KeyPrefix", () => {
  it.each(GOOD)("accepts %j", (p) => {
    expect(isS3KeyPrefix(p)).toBe(true);
    expect(isS3KeyPrefix(p, { partitions: true })).toBe(true);
  });
  it.each(BAD)("refuses %j, partitions or not", (p) => {
    expect(isS3KeyPrefix(p)).toBe(false);
    expect(isS3KeyPrefix(p, { partitions: true })).toBe(false);
  });
  it("accepts a key=value segment only where partitions are allowed", () => {
    expect(isS3KeyPrefix("inference-logs/model=iris")).toBe(false);
    expect(isS3KeyPrefix("inference-logs/model=iris", { partitions: true })).toBe(true);
    expect(isS3KeyPrefix("inference-logs/model=iris/version=3", { partitions: true })).toBe(true);
  });
  it.each(["inference-logs/=iris", "inference-logs/model=", "inference-logs/model==iris", "inference-logs/a=b=c", "="])(
    "refuses a '=' that is not one partition key=value: %j",
    (p) => {
      expect(isS3KeyPrefix(p, { partitions: true })).toBe(false);
    },
  );
  it("exports the two patterns the checks use", () => {
    expect(S3_KEY_PREFIX.test("mlartifacts")).toBe(true);
    expect(PARTITIONED_S3_KEY_PREFIX.test("inference-logs/model=iris")).toBe(true);
  });
});

describe("the configuration uses the same rule", () => {
  it.each(BAD.filter((p) => p !== ""))("refuses artifacts.prefix %j", (prefix) => {
    expect(configProblems({ artifacts: { prefix } }).join("\n")).toMatch(
      /artifacts\.prefix.*an S3 key prefix without leading or trailing '\/'/s,
    );
  });
  it("refuses a partition in artifacts.prefix", () => {
    expect(configProblems({ artifacts: { prefix: "ml/model=x" } }).join("\n")).toMatch(/an S3 key prefix/);
  });
});
