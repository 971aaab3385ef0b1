import { App } from "cdktf";
import type { IConstruct } from "constructs";
import { ConfigError, loadAllEnvironments, selectEnvironments, type EnvironmentConfig } from "./config";
import { stackErrorProblem } from "./stacks/prop-errors";
import { MlflowStack } from "./stacks/mlflow-stack";
import { GcpMlflowStack } from "./stacks/gcp-stack";
import { AzureMlflowStack } from "./stacks/azure-stack";
import { cleanStackOutput } from "./stacks/output";

/**
 * Builds one stack per configured environment. `MLFLOW_ENVIRONMENTS=dev,prod` (or the cdktf context
 * value `environments`) synthesizes only those. An error a construct raises is reported like a
 * configuration problem (environment and field), every environment's at once.
 */
export function buildApp(options: { outdir?: string; filter?: string } = {}): App {
  const app = new App({ outdir: options.outdir });
  const filter = options.filter ?? process.env.MLFLOW_ENVIRONMENTS ?? (app.node.tryGetContext("environments") as string | undefined);
  const problems: string[] = [];
  // Every environment, also when the filter selects a few: each stack grants its part of the release
  // pipeline's image copies between environments (config/image-copies.ts).
  const all = loadAllEnvironments();
  const aws = all.filter((e): e is EnvironmentConfig => e.cloud === "aws");
  for (const config of selectEnvironments(all, filter)) {
    try {
      if (config.cloud === "gcp") new GcpMlflowStack(app, config);
      else if (config.cloud === "azure") new AzureMlflowStack(app, config);
      else new MlflowStack(app, config, { environments: aws });
    } catch (err) {
      problems.push(stackErrorProblem(config, err));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return app;
}

/** A warning or info message a construct attached with cdktf's Annotations. */
export interface SynthMessage {
  readonly level: "warning" | "info";
  /** Construct path, e.g. "mlflow-dev/monitoring". */
  readonly path: string;
  readonly message: string;
}

/**
 * The warnings and infos of every construct under `scope` (cdktf's Annotations). The cdktf CLI prints
 * them from the manifest; `node dist/main.js` prints them through this, so `npm run synth` shows them too.
 */
export function synthMessages(scope: IConstruct): SynthMessage[] {
  const out: SynthMessage[] = [];
  for (const c of scope.node.findAll()) {
    for (const entry of c.node.metadata) {
      const level = entry.type === "@cdktf/warn" ? "warning" : entry.type === "@cdktf/info" ? "info" : undefined;
      if (level) out.push({ level, path: c.node.path, message: String(entry.data) });
    }
  }
  return out;
}

/** Synthesizes every selected environment's stack into cdktf.out/, or reports why not and exits 1. */
export function main(): void {
  try {
    const app = buildApp();
    cleanStackOutput(app);
    app.synth();
    for (const m of synthMessages(app)) console.warn(`${m.level}: ${m.path}: ${m.message}`);
  } catch (err) {
    // Configuration problems, and error annotations from the synth-time policies: the message is the
    // report. Anything else is a bug: keep its stack trace.
    const report = err instanceof ConfigError || (err instanceof Error && err.message.startsWith("Encountered Annotations"));
    console.error(report ? (err as Error).message : err);
    process.exit(1);
  }
}

if (require.main === module) main();
