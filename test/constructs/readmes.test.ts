/**
 * Each feature's README (constructs/<feature>/README.md) carries the props table rendered from the TSDoc of
 * its props interface (scripts/construct-readmes.ts): run `npm run docs` after changing a props interface.
 */
import * as fs from "fs";
import * as path from "path";
import { FEATURES, readmePath, renderFeature, withSection, parseText, propRows } from "../../scripts/construct-readmes";

const CONSTRUCTS = path.join(__dirname, "..", "..", "constructs");

describe("construct READMEs", () => {
  it("every feature folder has a README in the list the generator renders", () => {
    const folders = fs
      .readdirSync(CONSTRUCTS, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== "core")
      .map((e) => e.name);
    expect(Object.keys(FEATURES).sort()).toEqual(folders.sort());
  });

  it.each(Object.keys(FEATURES))("%s/README.md's props table is the one rendered from the TSDoc (run `npm run docs`)", (feature) => {
    const readme = fs.readFileSync(readmePath(feature), "utf8");
    expect(withSection(readme, renderFeature(feature))).toBe(readme);
    // What it is, how it is used, then the table.
    expect(readme).toMatch(/^# \w+\n\n\S[^\n]+\n\n## Usage\n[\s\S]*```ts\n[\s\S]+```\n\n## Props\n/);
  });

  it("a README whose props changed is reported stale (a planted TSDoc change, a planted new prop)", () => {
    const feature = "drift-job";
    const file = path.join(CONSTRUCTS, feature, "index.ts");
    const source = fs.readFileSync(file, "utf8");
    const readme = fs.readFileSync(readmePath(feature), "utf8");
    const planted = [
      source.replace("The KMS key of the bucket", "The KMS key of the log bucket"),
      source.replace(
        "export interface DriftJobProps extends ApiClientCronJobProps {",
        "export interface DriftJobProps extends ApiClientCronJobProps {\n  /** A planted prop. @default 3 */\n  readonly planted?: number;",
      ),
    ];
    for (const text of planted) {
      expect(text).not.toBe(source);
      const rendered = renderFeature(feature, (f) => (f === file ? parseText(f, text) : parseText(f, fs.readFileSync(f, "utf8"))));
      expect(withSection(readme, rendered)).not.toBe(readme);
    }
  });

  it("reads a prop's type, whether it is required, its default and description, inherited props included", () => {
    const sf = parseText(
      path.join(CONSTRUCTS, "drift-job", "index.ts"),
      fs.readFileSync(path.join(CONSTRUCTS, "drift-job", "index.ts"), "utf8"),
    );
    const rows = propRows(sf, "DriftJobProps");
    expect(rows.find((r) => r.name === "kmsKeyArn")).toEqual(
      expect.objectContaining({ type: "string", required: true, description: expect.stringMatching(/^The KMS key of the bucket/) }),
    );
    // Inherited through two levels: DriftJobProps -> ApiClientCronJobProps (AWS) -> CronJobWorkloadProps (every cloud).
    expect(rows.find((r) => r.name === "runAsUser")).toEqual(
      expect.objectContaining({ type: "number", required: false, default: "10001", from: "CronJobWorkloadProps" }),
    );
    expect(rows.find((r) => r.name === "clusterName")).toEqual(expect.objectContaining({ required: true, from: "ApiClientCronJobProps" }));
  });
});
