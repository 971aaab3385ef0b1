import { App } from "cdktf";
import { ConfigError, loadEnvironments, selectEnvironments } from "./config";
import { MlflowStack } from "./stacks/mlflow-stack";
import { cleanStackOutput } from "./stacks/output";

/**
 * Builds one stack per configured environment. `MLFLOW_ENVIRONMENTS=dev,prod` (or the cdktf context
 * value `environments`) synthesizes only those.
 */
export function buildApp(options: { outdir?: string; filter?: string } = {}): App {
  const app = new App({ outdir: options.outdir });
  const filter = options.filter ?? process.env.MLFLOW_ENVIRONMENTS ?? (app.node.tryGetContext("environments") as string | undefined);
  for (const config of selectEnvironments(loadEnvironments(), filter)) {
    new MlflowStack(app, config);
  }
  return app;
}

if (require.main === module) {
  try {
    const app = buildApp();
    cleanStackOutput(app);
    app.synth();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}
