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
    why: "the operator version (appVersion) of kube-prometheus-stack 88.5.3, the chart constructs/monitoring/index.ts pins",
    dir: "example/prometheus-operator-crd-full",
    files: [
      "monitoring.coreos.com_servicemonitors.yaml",
      "monitoring.coreos.com_podmonitors.yaml",
      "monitoring.coreos.com_prometheusrules.yaml",
      "monitoring.coreos.com_probes.yaml",
      "monitoring.coreos.com_scrapeconfigs.yaml",
      "monitoring.coreos.com_alertmanagerconfigs.yaml",
    ],
  },
  {
    module: "github.com/argoproj/argo-rollouts",
    // v1.9 and v1.10 declare `go 1.26.10` in their go.mod: this machine's Go 1.26.8 refuses to download them.
    version: "v1.8.3",
    why: "newest Argo Rollouts release the local Go toolchain can fetch from the module proxy",
    dir: "manifests/crds",
    files: [
      "rollout-crd.yaml",
      "analysis-template-crd.yaml",
      "cluster-analysis-template-crd.yaml",
      "analysis-run-crd.yaml",
      "experiment-crd.yaml",
    ],
  },
  {
    module: "github.com/argoproj/argo-workflows/v3",
    version: "v3.7.3",
    why: "Argo Workflows 3.7 (full CRDs, with the schema; the minimal ones accept any spec)",
    dir: "manifests/base/crds/full",
    files: ["argoproj.io_workflowtemplates.yaml", "argoproj.io_clusterworkflowtemplates.yaml", "argoproj.io_cronworkflows.yaml"],
  },
  {
    module: "sigs.k8s.io/gateway-api",
    version: "v1.4.1",
    why: "the standard channel's HTTPRoute (gateway.networking.k8s.io/v1) that ingress.kind gateway-api creates, as on a GKE Gateway; GKE installs and upgrades its own copy of these CRDs (--gateway-api=standard), whose v1 HTTPRoute has been stable since v1.0",
    dir: "config/crd/standard",
    files: ["gateway.networking.k8s.io_httproutes.yaml"],
  },
];

/** Downloads (or finds in the module cache) a module and returns its directory. */
export function moduleDir(module: string, version: string): string {
  const out = execFileSync("go", ["mod", "download", "-json", `${module}@${version}`], {
    encoding: "utf8",
    cwd: os.tmpdir(),
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

/**
 * CRDs whose upstream module the Go proxy does not serve, written here from their published API reference
 * (fields, types, required and enumerated values; nothing else is known offline). The AWS Load Balancer
 * Controller's go.mod lacks the `/v2`..`/v3` suffix its tags need, so `go mod download` of any v2+ version
 * is refused ("This module version is not available"): the TargetGroupBinding the API Gateway exposure's
 * model charts carry is checked against its documented `elbv2.k8s.aws/v1beta1` spec instead.
 */
export const DOCUMENTED_CRDS: { crd: ApiObject; source: string }[] = [
  {
    source:
      "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/targetgroupbinding/spec/ (TargetGroupBindingSpec: targetGroupARN, targetGroupName, targetType instance|ip, serviceRef {name, port}, networking, nodeSelector, ipAddressType ipv4|ipv6, vpcID, multiClusterTargetGroup)",
    crd: {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "targetgroupbindings.elbv2.k8s.aws" },
      spec: {
        group: "elbv2.k8s.aws",
        names: {
          kind: "TargetGroupBinding",
          listKind: "TargetGroupBindingList",
          plural: "targetgroupbindings",
          singular: "targetgroupbinding",
        },
        scope: "Namespaced",
        versions: [
          {
            name: "v1beta1",
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  apiVersion: { type: "string" },
                  kind: { type: "string" },
                  metadata: { type: "object" },
                  spec: {
                    type: "object",
                    required: ["serviceRef"],
                    properties: {
                      targetGroupARN: { type: "string", minLength: 1 },
                      targetGroupName: { type: "string" },
                      targetType: { type: "string", enum: ["instance", "ip"] },
                      serviceRef: {
                        type: "object",
                        required: ["name", "port"],
                        properties: {
                          name: { type: "string" },
                          port: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] },
                        },
                      },
                      networking: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                      nodeSelector: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                      ipAddressType: { type: "string", enum: ["ipv4", "ipv6"] },
                      vpcID: { type: "string" },
                      multiClusterTargetGroup: { type: "boolean" },
                    },
                  },
                  status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                },
              },
            },
          },
        ],
      },
    },
  },
];
