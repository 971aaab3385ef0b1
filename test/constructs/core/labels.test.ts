/**
 * The platform's Kubernetes labels (constructs/core/labels.ts), defined once. Key order is part of the
 * contract: the synthesized JSON keeps it, and a changed order is a changed cdk.tf.json.
 */
import { labelValue, managedLabels, podSelectorLabels, RESTRICTED_POD_SECURITY } from "../../../constructs/core/labels";
import { modelServerPodLabels } from "../../../constructs/model-endpoint";
import { modelGatewayPodLabels } from "../../../constructs/model-endpoint/gateway";
import { smokeTestPodLabels } from "../../../constructs/model-endpoint/delivery";
import { driftJobPodLabels } from "../../../constructs/drift-job/command";
import { modelRetentionPodLabels } from "../../../constructs/model-retention/command";
import { registryEventsPodLabels } from "../../../constructs/registry-events/command";
import { trackingServerPodLabels } from "../../../constructs/tracking-server";
import { envConfig } from "../../helpers/synth";

describe("labels", () => {
  it("labelValue cuts a name to 63 characters and drops a trailing '-'", () => {
    expect(labelValue("short")).toBe("short");
    expect(labelValue(`${"a".repeat(62)}-b`)).toBe("a".repeat(62));
    expect(labelValue("a".repeat(70))).toBe("a".repeat(63));
  });

  it("podSelectorLabels: name, instance, component, in that order, and nothing that changes with a version", () => {
    expect(Object.entries(podSelectorLabels("n", "i", "c"))).toEqual([
      ["app.kubernetes.io/name", "n"],
      ["app.kubernetes.io/instance", "i"],
      ["app.kubernetes.io/component", "c"],
    ]);
  });

  it("managedLabels and RESTRICTED_POD_SECURITY", () => {
    expect(Object.entries(managedLabels("mlflow"))).toEqual([
      ["app.kubernetes.io/part-of", "mlflow"],
      ["app.kubernetes.io/managed-by", "cdktf"],
    ]);
    expect(RESTRICTED_POD_SECURITY).toEqual({
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/enforce-version": "latest",
    });
  });

  it("every component's pod labels are the selector shape", () => {
    const config = envConfig();
    const instance = `${config.project}-${config.name}`;
    expect(trackingServerPodLabels(instance)).toEqual(podSelectorLabels("mlflow", instance, "tracking-server"));
    expect(driftJobPodLabels(config)).toEqual(podSelectorLabels("mlflow", instance, "drift-job"));
    expect(modelRetentionPodLabels(config)).toEqual(podSelectorLabels("mlflow", instance, "model-retention"));
    expect(registryEventsPodLabels(config)).toEqual(podSelectorLabels("mlflow-registry-events", instance, "registry-events"));
    const long = `${"m".repeat(62)}-gateway`;
    expect(modelServerPodLabels("mlflow-dev", "iris")).toEqual(podSelectorLabels("model-server", "mlflow-dev-iris", "model-server"));
    expect(modelGatewayPodLabels(long)["app.kubernetes.io/instance"]).toBe("m".repeat(62));
    expect(smokeTestPodLabels(long)).toEqual(podSelectorLabels("model-smoke-test", labelValue(long), "smoke-test"));
  });
});
