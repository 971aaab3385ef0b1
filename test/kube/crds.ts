/**
 * The CustomResourceDefinitions the stacks' custom resources are checked against, installed from
 * their upstream Go modules at pinned versions (the module proxy is reachable here; GitHub is not).
 * `go mod download` puts a module's files in the module cache; helm-render converts the YAML.
 */
import { execFileSync } from "child_process";
import * as os from "os";
import * as path from "path";
import type { ApiObject } from "./convert";

export interface CrdSource {
  module: string;
  version: string;
  /** Why this version. */
  why: string;
  /** Directory inside the module, and the file names to install from it. */
  dir: string;
  files: string[];
}

export const CRD_SOURCES: CrdSource[] = [
  {
    module: "github.com/prometheus-operator/prometheus-operator",
    version: "v0.93.1",
    why: "the operator version (appVersion) of kube-prometheus-stack 88.5.3, the chart constructs/monitoring.ts pins",
    dir: "example/prometheus-operator-crd-full",
    files: [
      "monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com_podmonitors.yaml",
      "monitoring.coreos.com_prometheusrules.yaml", "monitoring.coreos.com_probes.yaml",
      "monitoring.coreos.com_scrapeconfigs.yaml", "monitoring.coreos.com_alertmanagerconfigs.yaml",
    ],
  },
  {
    module: "github.com/argoproj/argo-rollouts",
    // v1.9 and v1.10 declare `go 1.26.10` in their go.mod: this machine's Go 1.26.8 refuses to download them.
    version: "v1.8.3",
    why: "newest Argo Rollouts release the local Go toolchain can fetch from the module proxy",
    dir: "manifests/crds",
    files: ["rollout-crd.yaml", "analysis-template-crd.yaml", "cluster-analysis-template-crd.yaml", "analysis-run-crd.yaml", "experiment-crd.yaml"],
  },
  {
    module: "github.com/argoproj/argo-workflows/v3",
    version: "v3.7.3",
    why: "Argo Workflows 3.7 (full CRDs, with the schema; the minimal ones accept any spec)",
    dir: "manifests/base/crds/full",
    files: ["argoproj.io_workflowtemplates.yaml", "argoproj.io_clusterworkflowtemplates.yaml", "argoproj.io_cronworkflows.yaml"],
  },
];

/** Downloads (or finds in the module cache) a module and returns its directory. */
export function moduleDir(module: string, version: string): string {
  const out = execFileSync("go", ["mod", "download", "-json", `${module}@${version}`], {
    encoding: "utf8", cwd: os.tmpdir(),
    env: { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" },
  });
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? "no directory"}`);
  return info.Dir;
}

/** Reads YAML files as JSON documents with helm-render. */
export function readYaml(helmRender: string, files: string[]): ApiObject[] {
  const out = execFileSync(helmRender, ["yaml", ...files], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  return JSON.parse(out) as ApiObject[];
}

/** The CRD objects of every source. */
export function loadCrds(helmRender: string, sources: CrdSource[] = CRD_SOURCES): ApiObject[] {
  const files: string[] = [];
  for (const src of sources) {
    const dir = moduleDir(src.module, src.version);
    for (const f of src.files) files.push(path.join(dir, src.dir, f));
  }
  return readYaml(helmRender, files).filter((o) => o.kind === "CustomResourceDefinition");
}
