import * as path from "path";
import { TerraformStack, Testing } from "cdktf";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { trackingServerCommand } from "../../../constructs/tracking-server/mlflow-command";
import { mlflowCommandInputs } from "../../../constructs/tracking-server";
import { trackingServerProps } from "../../../constructs/tracking-server/from-config";
import {
  TRACKING_GUARD_APP_NAME,
  TRACKING_GUARD_DIR,
  TRACKING_GUARD_ENV,
  TRACKING_GUARD_MODULE,
  trackingGuardEnv,
  trackingGuardFiles,
  trackingGuardVolume,
} from "../../../constructs/tracking-server/guard-command";
import { TrackingGuard } from "../../../constructs/tracking-server/guard";
import type { EnvironmentConfig } from "../../../config";
import { envConfig, onlyResource, type TfJson } from "../../helpers/synth";
import { toolGuardDir, venvPythonRun } from "../../helpers/mlflow-tool";

const dev = envConfig("dev");
/** The command inputs of an environment, through the one mapping the stack uses (tracking-server/from-config.ts). */
const inputsOf = (config: EnvironmentConfig) =>
  mlflowCommandInputs(
    trackingServerProps(config, {
      backendStore: {
        host: "db.example.internal",
        port: 5432,
        database: "mlflow",
        credentials: { secretName: "db", usernameKey: "username", passwordKey: "password" },
      },
      artifactStore: { destinationUri: "s3://bucket/mlartifacts", bucketName: "bucket" },
      identity: { serviceAccountName: "mlflow", serviceAccountAnnotations: {} },
      authProxyPodLabels: { "app.kubernetes.io/name": "oauth2-proxy" },
    }),
  );
const inputs = inputsOf(dev);
const env = (cmd: { env: readonly { name: string }[] }, name: string) =>
  (cmd.env.find((e) => e.name === name) as { value?: string } | undefined)?.value;

describe("the tracking server runs MLflow's app inside the guard", () => {
  const cmd = trackingServerCommand(inputs);

  it("selects the guard by name, and reads it from the mounted ConfigMap's directory", () => {
    const i = cmd.args.indexOf("--app-name");
    expect(cmd.args[i + 1]).toBe(TRACKING_GUARD_APP_NAME);
    expect(env(cmd, "PYTHONPATH")?.split(":")).toContain(TRACKING_GUARD_DIR);
    expect(
      cmd.files
        ?.map((f) => f.path)
        .filter((p) => p.startsWith(`${TRACKING_GUARD_DIR}/`))
        .sort(),
    ).toEqual(
      trackingGuardFiles()
        .map((f) => `${TRACKING_GUARD_DIR}/${f.path}`)
        .sort(),
    );
  });

  it("checks identity on the public hostname with the configured domains; the Service's names are in-cluster", () => {
    expect(env(cmd, TRACKING_GUARD_ENV.publicHosts)?.split(",")).toContain(dev.hostname);
    expect(env(cmd, TRACKING_GUARD_ENV.emailDomains)).toBe(dev.auth.allowedEmailDomains.join(","));
    expect(env(cmd, TRACKING_GUARD_ENV.anyEmailDomain)).toBe("false");
    expect(env(cmd, TRACKING_GUARD_ENV.internalHosts)?.split(",")).toContain(`mlflow-tracking.${dev.mlflow.namespace}.svc.cluster.local`);
  });

  it("opens the domain list only by the named choice, and never for an empty list", () => {
    const any = envConfig("dev", { auth: { allowedEmailDomains: [], allowedGroups: ["ml"], allowAnyEmailDomain: true } });
    expect(trackingServerCommand(inputsOf(any)).env).toEqual(
      expect.arrayContaining([
        { name: TRACKING_GUARD_ENV.anyEmailDomain, value: "true" },
        { name: TRACKING_GUARD_ENV.emailDomains, value: "" },
      ]),
    );
    const handMade = {
      configMapName: "g",
      publicHosts: [dev.hostname],
      internalHosts: [],
      allowedEmailDomains: [],
      allowAnyEmailDomain: false,
    };
    expect(() => trackingGuardEnv(handMade)).toThrow(
      /allowedEmailDomains is \[\]: expected at least one domain, or allowAnyEmailDomain: true/,
    );
  });

  it("names the allowed webhook destinations only when there are some, and refuses anything but an absolute URL", () => {
    const base = { configMapName: "g", publicHosts: [dev.hostname], internalHosts: [], allowedEmailDomains: ["example.com"] };
    expect(trackingGuardEnv(base).map((e) => e.name)).not.toContain(TRACKING_GUARD_ENV.webhookUrls);
    const url = "http://events.mlflow.svc.cluster.local:8080/webhooks/mlflow";
    expect(trackingGuardEnv({ ...base, webhookUrls: [url] })).toContainEqual({ name: TRACKING_GUARD_ENV.webhookUrls, value: url });
    for (const bad of ["events:8080", "http://a,b/x", "ftp://x/y", "http://events:8080"]) {
      expect(() => trackingGuardEnv({ ...base, webhookUrls: [bad] })).toThrow(/webhookUrls is .*: expected absolute http\(s\) URLs/);
    }
  });

  it("ships the files in a ConfigMap whose keys the volume maps to their paths, read-only", () => {
    const stack = new TerraformStack(Testing.app(), "test");
    new KubernetesProvider(stack, "kubernetes", {});
    new TrackingGuard(stack, "guard", { name: "mlflow-tracking-guard", namespace: "mlflow" });
    const cm = onlyResource(JSON.parse(Testing.synth(stack)) as TfJson, "kubernetes_config_map_v1");
    expect(Object.keys(cm.data).sort()).toEqual(
      trackingGuardFiles()
        .map((f) => f.key)
        .sort(),
    );
    expect(cm.data.module).toContain("class PlatformGuard");
    const { volume, mount } = trackingGuardVolume("mlflow-tracking-guard");
    expect(volume.configMap.items.map((i) => i.key).sort()).toEqual(Object.keys(cm.data).sort());
    expect(mount).toMatchObject({ mountPath: TRACKING_GUARD_DIR, readOnly: true });
  });

  it("is found by the pinned MLflow's own `--app-name` lookup from those files, as an ASGI app (not a factory)", async () => {
    // The run's MLflow process has exactly trackingGuardFiles() on its import path, as the kubelet mounts them.
    const script = [
      "from mlflow.server import _find_app, _is_factory",
      `app = _find_app(${JSON.stringify(TRACKING_GUARD_APP_NAME)})`,
      "import importlib; m, a = app.split(':'); mod = importlib.import_module(m); obj = getattr(mod, a)",
      "print(app, _is_factory(app), type(obj).__name__, obj.__module__)",
      "print(mod.__file__)",
    ].join("\n");
    const { code, output } = await venvPythonRun(script);
    expect(code).toBe(0);
    const [found, file] = output.trim().split("\n");
    expect(found).toBe("mlflow_platform_guard:app False PlatformGuard mlflow_platform_guard");
    // Imported from those files, not from anywhere else on the path.
    expect(path.relative(toolGuardDir(), file)).toBe(`${TRACKING_GUARD_MODULE}.py`);
  }, 120_000);
});
