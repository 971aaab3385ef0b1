/**
 * Starts etcd + kube-apiserver once for the whole `npm run test:kube` run and installs the pinned CRDs;
 * the test files reach it through the file named by KUBE_CHECK_CLUSTER.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TOOLS_DIR } from "../helpers/tools";
import { kubeBin, startCluster } from "./apiserver";
import { installCrds } from "./check";
import { KubeClient } from "./client";
import { CLUSTER_ENV } from "./apiserver";
import { CRD_SOURCES, DOCUMENTED_CRDS, loadCrds } from "./crds";

export default async function globalSetup(): Promise<void> {
  const t0 = Date.now();
  const info = await startCluster(TOOLS_DIR, (m) => process.stdout.write(`\n${m}\n`));
  const t1 = Date.now();
  try {
    const crds = [...loadCrds(kubeBin(TOOLS_DIR, "helm-render")), ...DOCUMENTED_CRDS.map((d) => d.crd)];
    const client = new KubeClient(info);
    await client.discover();
    const t2 = Date.now();
    await installCrds(client, crds);
    process.stdout.write(
      `kube-check: server up in ${((t1 - t0) / 1000).toFixed(1)} s; ${crds.length} CRDs read in ${((t2 - t1) / 1000).toFixed(1)} s and installed in ${((Date.now() - t2) / 1000).toFixed(1)} s from ${CRD_SOURCES.map((s) => `${s.module}@${s.version}`).join(", ")} and ${DOCUMENTED_CRDS.length} written from their API reference\n`,
    );
  } catch (err) {
    const { stopCluster } = await import("./apiserver");
    stopCluster(info);
    throw err;
  }
  const file = path.join(os.tmpdir(), `kube-check-${process.pid}.json`);
  fs.writeFileSync(file, JSON.stringify(info), { mode: 0o600 });
  process.env[CLUSTER_ENV] = file;
}
