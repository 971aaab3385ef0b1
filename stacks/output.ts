/**
 * Keeps `cdktf.out` clean across synth modes. cdktf writes each stack into `stacks/<name>/` without
 * clearing it, so a `cdktf synth --hcl` after a JSON synth (or the other way round) leaves both
 * `cdk.tf` and `cdk.tf.json` there, and Terraform would load both (every resource declared twice); a
 * changed local chart leaves its old asset folder behind. Before synthesizing, the files a synth writes
 * are removed for the stacks about to be written. Terraform's own files (`.terraform/`, the lock file)
 * stay, and so do stacks not selected by an environment filter.
 */
import * as fs from "fs";
import * as path from "path";
import { type App, TerraformStack } from "cdktf";

/** What a synth writes into a stack's folder (JSON or HCL, its metadata and its assets). */
export const SYNTH_OUTPUTS = ["cdk.tf.json", "cdk.tf", "metadata.json", "assets"] as const;

/** Removes the synth outputs of every stack of `app` from its output folder. Returns the paths removed. */
export function cleanStackOutput(app: App): string[] {
  const removed: string[] = [];
  for (const child of app.node.children) {
    if (!(child instanceof TerraformStack)) continue;
    const dir = path.join(app.outdir, "stacks", child.node.id);
    for (const name of SYNTH_OUTPUTS) {
      const p = path.join(dir, name);
      if (fs.existsSync(p)) {
        fs.rmSync(p, { recursive: true, force: true });
        removed.push(p);
      }
    }
  }
  return removed;
}
