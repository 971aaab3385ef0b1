/**
 * Draws a dashboard's panel layout as an SVG picture, straight from the dashboard JSON (gridPos, type,
 * title, units and query legends), for docs/monitoring/. `npx ts-node constructs/monitoring/layout.ts` rewrites
 * the pictures; a test fails when a picture no longer matches its dashboard.
 */
import * as fs from "fs";
import * as path from "path";
import { buildCloudWatchDashboard, CLOUDWATCH_DATASOURCE_UID } from "./cloudwatch";
import { buildDashboards, legendOf, type Dashboard } from "./dashboards";

const CELL_W = 40; // px per grid column (Grafana's grid has 24)
const CELL_H = 24; // px per grid row
const PAD = 4;

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const clip = (s: string, width: number, px = 6.2) =>
  s.length * px > width ? `${s.slice(0, Math.max(1, Math.floor(width / px) - 1))}…` : s;

/** The SVG picture of a dashboard's panels. */
export function dashboardLayoutSvg(d: Dashboard): string {
  const bottom = Math.max(...d.panels.map((p) => p.gridPos.y + p.gridPos.h));
  const width = 24 * CELL_W;
  const height = bottom * CELL_H + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#111217"/>`,
    `<text x="${PAD * 2}" y="24" fill="#ccccdc" font-size="16" font-weight="bold">${escape(d.title)}</text>`,
  ];
  for (const p of d.panels) {
    const x = p.gridPos.x * CELL_W + PAD;
    const y = p.gridPos.y * CELL_H + 36;
    const w = p.gridPos.w * CELL_W - 2 * PAD;
    const h = p.gridPos.h * CELL_H - 2 * PAD;
    parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="3" fill="#181b1f" stroke="#2c3235"/>`);
    parts.push(
      `<text x="${x + 8}" y="${y + 18}" fill="#ccccdc" font-size="13" font-weight="bold">${escape(clip(p.title, w - 16, 7.2))}</text>`,
    );
    const unit = p.fieldConfig.defaults.unit;
    if (p.type === "stat") {
      parts.push(`<text x="${x + 8}" y="${y + h - 12}" fill="#73bf69" font-size="20">${escape(`stat · ${unit}`)}</text>`);
    } else {
      // A schematic line per query, labelled with its legend.
      const colors = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c"];
      p.targets.forEach((t, i) => {
        const ly = y + 40 + i * 16;
        if (ly > y + h - 8) return;
        const c = colors[i % colors.length];
        parts.push(`<line x1="${x + 8}" y1="${ly - 4}" x2="${x + 28}" y2="${ly - 4}" stroke="${c}" stroke-width="2"/>`);
        parts.push(`<text x="${x + 34}" y="${ly}" fill="#9fa7b3" font-size="11">${escape(clip(legendOf(t), w - 48, 6))}</text>`);
      });
      parts.push(`<text x="${x + w - 8}" y="${y + 18}" fill="#6e7681" font-size="11" text-anchor="end">${escape(unit)}</text>`);
    }
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** A Markdown table of a dashboard's panels, in layout order. */
export function dashboardPanelTable(d: Dashboard): string {
  const tops = [...new Set(d.panels.map((p) => p.gridPos.y))].sort((a, b) => a - b);
  const rows = d.panels.map(
    (p) => `| ${tops.indexOf(p.gridPos.y) + 1} | ${p.title} | ${p.type} (${p.fieldConfig.defaults.unit}) | ${p.description} |`,
  );
  return ["| row | panel | kind | what it shows |", "|---|---|---|---|", ...rows].join("\n");
}

/** The targets the docs' pictures are drawn for (the shipped defaults). */
export const DOC_TARGETS = {
  workloadNamespace: "mlflow",
  trackingNamespace: "mlflow",
  trackingJob: "mlflow",
  proxyNamespace: "mlflow",
  proxyJob: "oauth2-proxy",
  prometheusNamespace: "monitoring",
  prometheusPvcPrefix: "prometheus-",
  datasourceUid: "prometheus",
} as const;

/** The CloudWatch targets the docs' picture is drawn for (an environment with a read replica, so every panel shows). */
export const DOC_CLOUDWATCH_TARGETS = {
  dbInstanceIdentifier: "mlflow-prod",
  dbReplicaIdentifier: "mlflow-prod-replica",
  bucketName: "mlflow-prod-artifacts-123456789012",
  datasourceUid: CLOUDWATCH_DATASOURCE_UID,
} as const;

/** Every dashboard the docs show: the three Prometheus ones and the CloudWatch one (install mode). */
export function docDashboards(): Dashboard[] {
  return [...buildDashboards(DOC_TARGETS), buildCloudWatchDashboard(DOC_CLOUDWATCH_TARGETS)];
}

/** Writes every dashboard's picture into `dir`. */
export function writeLayoutPictures(dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return docDashboards().map((d) => {
    const file = path.join(dir, `${d.uid}.svg`);
    fs.writeFileSync(file, dashboardLayoutSvg(d));
    return file;
  });
}

if (require.main === module) {
  console.log(writeLayoutPictures(process.argv[2] ?? path.join(process.cwd(), "docs", "monitoring")).join("\n"));
}
