/**
 * Prints the tool versions the shipped configuration pins (from the first environment, which the
 * end-to-end harness deploys locally), as shell assignments for scripts/install-tools.sh.
 */
import { loadEnvironments } from "../config";

const env = loadEnvironments()[0];
console.log(`MLFLOW_VERSION=${env.mlflow.version}`);
console.log(`OAUTH2_PROXY_VERSION=${env.auth.proxyVersion}`);
