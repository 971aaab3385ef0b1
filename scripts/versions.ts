/**
 * Prints the tool versions the shipped configuration pins (from the first environment, which the
 * end-to-end harness deploys locally), as shell assignments for scripts/install-tools.sh.
 */
import { loadEnvironments } from "../config";
import { ARGO_WORKFLOWS_APP_VERSION } from "../config/training";

const env = loadEnvironments()[0];
console.log(`MLFLOW_VERSION=${env.mlflow.version}`);
console.log(`OAUTH2_PROXY_VERSION=${env.auth.proxyVersion}`);
// The Kubernetes API check builds one kube-apiserver: every environment must target the same minor.
const kube = [...new Set(loadEnvironments().map((e) => e.cluster.kubernetesVersion))];
if (kube.length > 1) {
  console.error(
    `versions: environments target different Kubernetes versions (${kube.join(", ")}): the API check builds one kube-apiserver; align cluster.kubernetesVersion`,
  );
  process.exit(1);
}
console.log(`KUBERNETES_VERSION=${kube[0]}`);
// The training pipeline's Argo Workflows (argo lint --offline in the tests).
console.log(`ARGO_WORKFLOWS_VERSION=${ARGO_WORKFLOWS_APP_VERSION}`);
