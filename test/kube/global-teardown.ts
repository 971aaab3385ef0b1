/** Stops the server global-setup.ts started (by process group) and removes its data. */
import * as fs from "fs";
import type { ClusterInfo } from "./apiserver";
import { stopCluster } from "./apiserver";
import { CLUSTER_ENV } from "./apiserver";

export default async function globalTeardown(): Promise<void> {
  const file = process.env[CLUSTER_ENV];
  if (!file || !fs.existsSync(file)) return;
  stopCluster(JSON.parse(fs.readFileSync(file, "utf8")) as ClusterInfo);
  fs.rmSync(file, { force: true });
}
