/** The monitoring reference (docs/monitoring.md) stays true to the construct: every alert has a runbook, every panel a row, every picture is current. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ALERT_NAMES, ROLLOUTS_CONTROLLER_ALERT_NAMES } from "../../constructs/monitoring/rules";
import { dashboardLayoutSvg, dashboardPanelTable, docDashboards, writeLayoutPictures } from "../../constructs/monitoring/layout";
import { KUBE_PROMETHEUS_STACK_VERSION } from "../../constructs/monitoring";

const root = path.join(__dirname, "..", "..");
const doc = fs.readFileSync(path.join(root, "docs", "monitoring.md"), "utf8");
// The three Prometheus dashboards and the CloudWatch one (install mode).
const dashboards = docDashboards();

describe("docs/monitoring.md", () => {
  it.each([...ALERT_NAMES, ...ROLLOUTS_CONTROLLER_ALERT_NAMES])("has a runbook section and a table row for %s", (name) => {
    expect(doc).toContain(`\n### ${name}\n`);
    expect(doc).toMatch(new RegExp(`\\n\\| ${name} \\| (critical|warning) \\|`));
  });

  it("shows all four dashboards, the CloudWatch one included", () => {
    expect(dashboards.map((d) => d.uid)).toEqual(["mlflow-tracking", "mlflow-sign-in", "mlflow-pods", "mlflow-data"]);
  });

  it("names the pinned chart version", () => {
    expect(doc).toContain(`(chart **${KUBE_PROMETHEUS_STACK_VERSION}**`);
  });

  it.each(dashboards.map((d) => [d.uid, d] as const))("shows dashboard %s: its panel table and picture", (uid, d) => {
    expect(doc).toContain(dashboardPanelTable(d));
    expect(doc).toContain(`](monitoring/${uid}.svg)`);
    const picture = fs.readFileSync(path.join(root, "docs", "monitoring", `${uid}.svg`), "utf8");
    // Stale picture? Run: npx ts-node --transpile-only constructs/monitoring/layout.ts
    expect(picture).toBe(dashboardLayoutSvg(d));
  });

  it("draws every panel of a dashboard into its picture", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layout-"));
    const files = writeLayoutPictures(dir);
    expect(files).toHaveLength(dashboards.length);
    for (const d of dashboards) {
      const svg = fs.readFileSync(path.join(dir, `${d.uid}.svg`), "utf8");
      expect(svg.match(/<rect [^>]*rx="3"/g)).toHaveLength(d.panels.length);
    }
  });
});
