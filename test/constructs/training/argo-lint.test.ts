/**
 * `argo lint --offline` (the argo CLI at the pinned Argo Workflows version, built from the Go module
 * proxy by scripts/build-argo-cli.sh) on the WorkflowTemplate and CronWorkflow every environment with
 * training enabled synthesizes, plus a broken copy that it must refuse (the check can fail).
 * The CRD schema check of the same objects is `npm run test:kube`.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ARGO_WORKFLOWS_APP_VERSION } from "../../../config/training";
import { TRAINING } from "../../fixtures/training";
import { configured, envConfig, resourcesOf, synthJson, SHIPPED, type TfJson } from "../../helpers/synth";
import { TOOLS_DIR } from "../../helpers/tools";
import { synthGcp } from "../../helpers/gcp";
import { synthAzure } from "../../helpers/azure";

const argo = path.join(TOOLS_DIR, "bin", "argo");
if (!fs.existsSync(argo))
  throw new Error(`argo not found at ${argo}: run \`npm run tools\` (scripts/install-tools.sh builds it with scripts/build-argo-cli.sh)`);

const resourcesOfPipeline = (json: TfJson): any[] => {
  const key = Object.keys(resourcesOf(json, "helm_release")).find((k) => k.startsWith("training_pipeline"));
  if (!key) throw new Error("no training pipeline release");
  return JSON.parse((resourcesOf(json, "helm_release")[key] as any).values[0]).resources;
};

function lint(objects: any[]): { code: number; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "argo-lint-"));
  try {
    objects.forEach((o, i) => fs.writeFileSync(path.join(dir, `${i}-${o.kind}.json`), JSON.stringify(o, null, 2)));
    try {
      return { code: 0, output: execFileSync(argo, ["lint", "--offline", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
    } catch (err: any) {
      return { code: err.status ?? 1, output: `${err.stdout ?? ""}${err.stderr ?? ""}` };
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

it("the CLI is the pinned Argo Workflows version", () => {
  expect(execFileSync(argo, ["version", "--short"], { encoding: "utf8" })).toContain(ARGO_WORKFLOWS_APP_VERSION);
});

const cases: [string, () => any[]][] = [
  ["the fixture with training enabled", () => resourcesOfPipeline(synthJson(envConfig("dev", TRAINING)))],
  // The GCP and Azure fixtures run it too (Azure's step pods carry workload identity's label).
  ["the GCP fixture", () => resourcesOfPipeline(synthGcp().json)],
  ["the Azure fixture", () => resourcesOfPipeline(synthAzure().json)],
  ...SHIPPED.filter((e) => configured(e).training.enabled).map((e): [string, () => any[]] => [
    `shipped environment ${e}`,
    () => resourcesOfPipeline(synthJson(configured(e))),
  ]),
];
it.each(cases)("argo lint --offline accepts the WorkflowTemplate and CronWorkflow of %s", (_name, objects) => {
  const r = lint(objects());
  expect(r.output).toMatch(/no linting errors found/);
  expect(r.code).toBe(0);
});

it("argo lint --offline refuses a broken copy (a step naming a template that does not exist)", () => {
  const [wt, ...rest] = resourcesOfPipeline(synthJson(envConfig("dev", TRAINING)));
  const broken = JSON.parse(JSON.stringify(wt));
  broken.spec.templates[0].steps[1][0].template = "no-such-template";
  const r = lint([broken, ...rest]);
  expect(r.code).not.toBe(0);
  expect(r.output).toMatch(/no-such-template/);
});
