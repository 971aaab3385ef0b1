/**
 * Prints the promotion gates of one environment as the JSON the registry tool reads:
 *
 *   npm run build && node dist/scripts/registry-gates.js dev > gates.json
 *   MLFLOW_PLATFORM_REGISTRY_GATES=gates.json mlflow-platform registry promote ...
 *
 * The same function (config/registry.ts `registryGates`) the end-to-end run uses: one source for the
 * gates a pipeline applies and the gates the configuration declares.
 */
import { loadEnvironments } from "../config";
import { registryGates } from "../config/registry";

const name = process.argv[2];
const all = loadEnvironments();
const env = all.find((e) => e.name === name);
if (!env) {
  console.error(`usage: node dist/scripts/registry-gates.js <environment>; environments: ${all.map((e) => e.name).join(", ")}`);
  process.exit(2);
}
console.log(JSON.stringify(registryGates(env.registry), null, 2));
