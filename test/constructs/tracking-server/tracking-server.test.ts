import { App, TerraformStack, Testing } from "cdktf";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import type { EnvironmentConfig } from "../../../config";
import { authProxyPodLabels } from "../../../constructs/auth-proxy/oauth2-proxy-command";
import { dbUpgradeCommand, gcCommand, trackingServerCommand } from "../../../constructs/tracking-server/mlflow-command";
import { renderProcess } from "../../../constructs/core/render";
import { PYTHON_SITE_DIR, SITECUSTOMIZE_KEY, TCP_NODELAY_SITECUSTOMIZE } from "../../../constructs/core/tcp-nodelay";
import type { ContainerCommand, EnvVar } from "../../../constructs/core/command-types";
import type { AwsTrackingIdentityContract, BackendStoreContract, S3ArtifactStoreContract } from "../../../constructs/core/contracts";
import { TrackingServer, migrationJobName, mlflowCommandInputs, type TrackingServerProps } from "../../../constructs/tracking-server";
import { trackingServerProps } from "../../../constructs/tracking-server/from-config";
import { teamsEnabled } from "../../../constructs/access/from-config";
import { configured, envConfig, onlyResource, resourcesOf, SHIPPED, type TfJson } from "../../helpers/synth";
import { mlflowCliParse } from "../../helpers/mlflow-cli";
import { containersOf, secretLiterals } from "../../helpers/containers";
import { synthJson } from "../../helpers/synth";

const artifactStore: S3ArtifactStoreContract = {
  bucketName: "mlflow-dev-artifacts-111111111111",
  bucketArn: "arn:aws:s3:::mlflow-dev-artifacts-111111111111",
  destinationUri: "s3://mlflow-dev-artifacts-111111111111/mlartifacts",
  kmsKeyArn: "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000",
};
const backendStore: BackendStoreContract = {
  host: "mlflow-dev.abcdefgh.eu-west-1.rds.amazonaws.com",
  port: 5432,
  database: "mlflow",
  credentials: { secretName: "mlflow-db", usernameKey: "username", passwordKey: "password" },
};
const identity: AwsTrackingIdentityContract = {
  serviceAccountName: "mlflow",
  roleArn: "arn:aws:iam::111111111111:role/mlflow-dev-tracking",
  serviceAccountAnnotations: {},
};

function props(config: EnvironmentConfig, over: Partial<TrackingServerProps> = {}): TrackingServerProps {
  return {
    ...trackingServerProps(config, { artifactStore, backendStore, identity, authProxyPodLabels: authProxyPodLabels(config.project) }),
    ...over,
  };
}

function synth(config: EnvironmentConfig, over: Partial<TrackingServerProps> = {}): TfJson {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  new KubernetesProvider(stack, "kubernetes", {});
  new TrackingServer(stack, "tracking-server", props(config, over));
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

const build =
  (config: EnvironmentConfig, over: Partial<TrackingServerProps> = {}) =>
  () => {
    const stack = new TerraformStack(new App(), "test");
    new TrackingServer(stack, "tracking-server", props(config, over));
  };

const podSpec = (r: Record<string, any>) => r.spec.template.spec;
/** The Terraform address of the only resource of `type`. */
const ref = (json: TfJson, type: string) => {
  const names = Object.keys(resourcesOf(json, type));
  expect(names).toHaveLength(1);
  return `${type}.${names[0]}`;
};
const cronPodSpec = (r: Record<string, any>) => r.spec.job_template.spec.template.spec;

/** Turns a synthesized container back into the command value it was built from. */
function commandOf(container: Record<string, any>): ContainerCommand {
  return {
    image: container.image,
    command: container.command,
    args: container.args,
    env: container.env.map((e: any): EnvVar =>
      e.value_from
        ? { name: e.name, secretKeyRef: { name: e.value_from.secret_key_ref.name, key: e.value_from.secret_key_ref.key } }
        : { name: e.name, value: e.value },
    ),
  };
}

const RECOMMENDED = [
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/version",
  "app.kubernetes.io/component",
  "app.kubernetes.io/part-of",
  "app.kubernetes.io/managed-by",
];

describe("TrackingServer in dev", () => {
  const config = envConfig("dev");
  const json = synth(config);
  const deployment = onlyResource(json, "kubernetes_deployment_v1");
  const job = onlyResource(json, "kubernetes_job_v1");
  const cron = onlyResource(json, "kubernetes_cron_job_v1");
  const server = podSpec(deployment).container[0];

  it("creates the ServiceAccount named by the identity, without an API token", () => {
    const sa = onlyResource(json, "kubernetes_service_account_v1");
    expect(sa.metadata).toMatchObject({ name: "mlflow", namespace: "mlflow" });
    expect(sa.metadata.annotations).toBeUndefined();
    expect(sa.automount_service_account_token).toBe(false);
    for (const spec of [podSpec(deployment), podSpec(job), cronPodSpec(cron)]) {
      expect(spec.service_account_name).toBe(`\${${ref(json, "kubernetes_service_account_v1")}.metadata[0].name}`);
      expect(spec.automount_service_account_token).toBe(false);
    }
  });

  it("runs the one tracking-server command from constructs/tracking-server/mlflow-command.ts, on the pinned -full image", () => {
    const want = trackingServerCommand(mlflowCommandInputs(props(config)));
    expect(server.image).toBe("ghcr.io/mlflow/mlflow:v3.17.2-full");
    expect(server.command).toEqual(want.command);
    expect(server.args).toEqual(want.args);
    expect(commandOf(server)).toEqual({ image: want.image, command: want.command, args: want.args, env: want.env });
    expect(server.port).toEqual([{ name: "http", container_port: 5000, protocol: "TCP" }]);
  });

  it("takes database credentials from Secret references and builds the URI with $(VAR)", () => {
    const env = Object.fromEntries(server.env.map((e: any) => [e.name, e]));
    expect(env.MLFLOW_DB_USER).toEqual({ name: "MLFLOW_DB_USER", value_from: { secret_key_ref: { name: "mlflow-db", key: "username" } } });
    expect(env.PGPASSWORD).toEqual({ name: "PGPASSWORD", value_from: { secret_key_ref: { name: "mlflow-db", key: "password" } } });
    expect(env.MLFLOW_BACKEND_STORE_URI.value).toBe(
      `postgresql+psycopg2://$(MLFLOW_DB_USER)@${backendStore.host}:5432/mlflow?sslmode=require`,
    );
    expect(env.MLFLOW_READ_REPLICA_BACKEND_STORE_URI).toBeUndefined();
  });

  it("probes /health: startup tolerates a slow first start, then readiness and liveness", () => {
    const probe = (p: any) => ({ path: p.http_get.path, port: p.http_get.port, budget: p.period_seconds * p.failure_threshold });
    expect(probe(server.startup_probe)).toEqual({ path: "/health", port: "http", budget: 300 });
    expect(probe(server.readiness_probe)).toEqual({ path: "/health", port: "http", budget: 30 });
    expect(probe(server.liveness_probe)).toEqual({ path: "/health", port: "http", budget: 60 });
  });

  it("takes requests and limits from configuration", () => {
    expect(server.resources).toEqual({ requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "2Gi" } });
  });

  it("runs restricted: non-root, read-only root with writable temp volumes, no escalation, no capabilities, RuntimeDefault seccomp", () => {
    for (const spec of [podSpec(deployment), podSpec(job), cronPodSpec(cron)]) {
      expect(spec.security_context).toEqual({
        run_as_non_root: true,
        run_as_user: "10001",
        run_as_group: "10001",
        fs_group: "10001",
        seccomp_profile: { type: "RuntimeDefault" },
      });
      const c = spec.container[0];
      expect(c.security_context).toMatchObject({
        allow_privilege_escalation: false,
        privileged: false,
        read_only_root_filesystem: true,
        run_as_non_root: true,
        capabilities: { drop: ["ALL"] },
        seccomp_profile: { type: "RuntimeDefault" },
      });
      expect(c.volume_mount).toContainEqual({ name: "tmp", mount_path: "/tmp" });
      expect(spec.volume).toContainEqual({ name: "tmp", empty_dir: { size_limit: "4Gi" } });
    }
    expect(server.volume_mount).toContainEqual({ name: "prometheus", mount_path: "/var/run/mlflow/prometheus" });
    expect(server.args[server.args.indexOf("--expose-prometheus") + 1]).toBe("/var/run/mlflow/prometheus");
  });

  it("spreads replicas across zones and nodes", () => {
    expect(podSpec(deployment).topology_spread_constraint).toEqual([
      {
        max_skew: 1,
        topology_key: "topology.kubernetes.io/zone",
        when_unsatisfiable: "ScheduleAnyway",
        label_selector: [{ match_labels: expect.any(Object) }],
        match_label_keys: ["pod-template-hash"],
      },
      {
        max_skew: 1,
        topology_key: "kubernetes.io/hostname",
        when_unsatisfiable: "ScheduleAnyway",
        label_selector: [{ match_labels: expect.any(Object) }],
        match_label_keys: ["pod-template-hash"],
      },
    ]);
    expect(podSpec(deployment).topology_spread_constraint[0].label_selector[0].match_labels).toEqual(deployment.spec.selector.match_labels);
  });

  it("terminates gracefully: preStop drain, then uvicorn's graceful shutdown within the grace period", () => {
    expect(server.lifecycle.pre_stop).toEqual([{ exec: { command: ["sleep", "10"] } }]);
    expect(podSpec(deployment).termination_grace_period_seconds).toBe(45);
    expect(server.args[server.args.indexOf("--uvicorn-opts") + 1]).toContain("--timeout-graceful-shutdown 30");
    expect(deployment.spec.strategy).toEqual({ type: "RollingUpdate", rolling_update: { max_surge: "1", max_unavailable: "0" } });
  });

  it("exposes a ClusterIP Service on the named port", () => {
    const svc = onlyResource(json, "kubernetes_service_v1");
    expect(svc.metadata).toMatchObject({ name: "mlflow-tracking", namespace: "mlflow" });
    expect(svc.spec).toEqual({
      type: "ClusterIP",
      selector: deployment.spec.selector.match_labels,
      port: [{ name: "http", port: 5000, target_port: "http", protocol: "TCP" }],
    });
  });

  it("runs one replica with no PDB, scaling to two with an HPA that owns the replica count", () => {
    expect(deployment.spec.replicas).toBe("1");
    expect(resourcesOf(json, "kubernetes_pod_disruption_budget_v1")).toEqual({});
    const hpa = onlyResource(json, "kubernetes_horizontal_pod_autoscaler_v2");
    expect(hpa.spec).toMatchObject({
      min_replicas: 1,
      max_replicas: 2,
      scale_target_ref: {
        api_version: "apps/v1",
        kind: "Deployment",
        name: `\${${ref(json, "kubernetes_deployment_v1")}.metadata[0].name}`,
      },
      metric: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", average_utilization: 70 } } }],
    });
    expect(deployment.lifecycle).toEqual({ ignore_changes: ["spec[0].replicas"] });
  });

  it("migrates with a Job per version that Terraform waits for, before the Deployment and the CronJob", () => {
    expect(job.metadata.name).toBe("mlflow-tracking-db-upgrade-3-17-2");
    expect(job.wait_for_completion).toBe(true);
    expect(job.spec.ttl_seconds_after_finished).toBeUndefined();
    expect(job.spec.backoff_limit).toBe(2);
    expect(podSpec(job).restart_policy).toBe("Never");
    expect(podSpec(job).init_container).toBeUndefined();
    expect(podSpec(deployment).init_container).toBeUndefined();
    const c = podSpec(job).container[0];
    const want = dbUpgradeCommand(mlflowCommandInputs(props(config)));
    expect([...c.command, ...c.args]).toEqual(["mlflow", "db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"]);
    expect(commandOf(c)).toEqual({ image: want.image, command: want.command, args: want.args, env: want.env });
    const jobRef = ref(json, "kubernetes_job_v1");
    expect(deployment.depends_on).toContain(jobRef);
    expect(cron.depends_on).toContain(jobRef);
    expect(deployment.wait_for_rollout).toBe(true);
  });

  it("collects garbage on the configured schedule with the same identity and secrets", () => {
    expect(cron.metadata.name).toBe("mlflow-tracking-gc");
    expect(cron.spec).toMatchObject({ schedule: "30 3 * * *", timezone: "Etc/UTC", concurrency_policy: "Forbid" });
    const c = cronPodSpec(cron).container[0];
    const want = gcCommand(mlflowCommandInputs(props(config)));
    expect(commandOf(c)).toEqual({ image: want.image, command: want.command, args: want.args, env: want.env });
    expect(c.args.slice(0, 3)).toEqual(["gc", "--older-than", "30d"]);
    expect(c.env).toContainEqual({ name: "PGPASSWORD", value_from: { secret_key_ref: { name: "mlflow-db", key: "password" } } });
    expect(cron.spec.job_template.spec.active_deadline_seconds).toBe(3600);
  });

  it("admits only the proxy, Prometheus's pods in the monitoring namespace and the gc job, on the server's port", () => {
    const np = onlyResource(json, "kubernetes_network_policy_v1");
    expect(np.spec.pod_selector.match_labels).toEqual(deployment.spec.selector.match_labels);
    expect(np.spec.policy_types).toEqual(["Ingress"]);
    expect(np.spec.ingress).toEqual([
      {
        from: [
          {
            pod_selector: {
              match_labels: {
                "app.kubernetes.io/name": "oauth2-proxy",
                "app.kubernetes.io/component": "auth-proxy",
                "app.kubernetes.io/part-of": "mlflow",
              },
            },
          },
          // One peer, both selectors (AND): Prometheus's pods, not Grafana or Alertmanager next to them.
          {
            namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "monitoring" } },
            pod_selector: { match_labels: { "app.kubernetes.io/name": "prometheus" } },
          },
          {
            pod_selector: {
              match_labels: {
                "app.kubernetes.io/name": "mlflow",
                "app.kubernetes.io/instance": "mlflow-dev",
                "app.kubernetes.io/component": "garbage-collection",
              },
            },
          },
          // dev turns the registry events service on: it reads the registry and declares its webhook.
          {
            pod_selector: {
              match_labels: {
                "app.kubernetes.io/name": "mlflow-registry-events",
                "app.kubernetes.io/instance": "mlflow-dev",
                "app.kubernetes.io/component": "registry-events",
              },
            },
          },
        ],
        ports: [{ port: "5000", protocol: "TCP" }],
      },
    ]);
    // No peer admits a whole namespace.
    for (const peer of np.spec.ingress[0].from) expect(peer.pod_selector?.match_labels).toBeDefined();
    // The gc pods carry the labels the policy admits.
    expect(cron.spec.job_template.spec.template.metadata.labels).toMatchObject(np.spec.ingress[0].from[2].pod_selector.match_labels);
  });

  it("labels everything with the recommended Kubernetes labels", () => {
    const types = [
      "kubernetes_service_account_v1",
      "kubernetes_job_v1",
      "kubernetes_deployment_v1",
      "kubernetes_service_v1",
      "kubernetes_horizontal_pod_autoscaler_v2",
      "kubernetes_cron_job_v1",
      "kubernetes_network_policy_v1",
    ];
    for (const t of types) {
      const r = onlyResource(json, t);
      expect(Object.keys(r.metadata.labels).sort()).toEqual(expect.arrayContaining(RECOMMENDED));
      expect(r.metadata.labels).toMatchObject({
        "app.kubernetes.io/name": "mlflow",
        "app.kubernetes.io/instance": "mlflow-dev",
        "app.kubernetes.io/version": "3.17.2",
        "app.kubernetes.io/part-of": "mlflow",
        "app.kubernetes.io/managed-by": "cdktf",
      });
    }
    expect(podSpec(job).container).toHaveLength(1);
    for (const [r, component] of [
      [deployment, "tracking-server"],
      [job, "db-migration"],
    ] as const) {
      expect(r.spec.template.metadata.labels).toMatchObject({
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/version": "3.17.2",
      });
    }
    expect(deployment.spec.selector.match_labels["app.kubernetes.io/version"]).toBeUndefined(); // selectors are immutable
  });
});

describe("per environment", () => {
  it.each(SHIPPED)("%s: PDB only with two or more replicas, HPA bounds from configuration, zone spread strict in production", (name) => {
    const config = configured(name);
    const json = synth(config);
    const pdb = Object.values(resourcesOf(json, "kubernetes_pod_disruption_budget_v1"));
    const hpa = onlyResource(json, "kubernetes_horizontal_pod_autoscaler_v2");
    expect(hpa.spec).toMatchObject({ min_replicas: config.mlflow.replicas.min, max_replicas: config.mlflow.replicas.max });
    if (config.mlflow.replicas.min >= 2) {
      expect(pdb).toHaveLength(1);
      expect(pdb[0].spec).toEqual({
        max_unavailable: "1",
        selector: { match_labels: onlyResource(json, "kubernetes_deployment_v1").spec.selector.match_labels },
      });
    } else {
      expect(pdb).toHaveLength(0);
    }
    const spread = podSpec(onlyResource(json, "kubernetes_deployment_v1")).topology_spread_constraint[0];
    expect(spread.when_unsatisfiable).toBe(config.production ? "DoNotSchedule" : "ScheduleAnyway");
  });

  it("prod: 3-10 replicas, 4 workers, its own requests and limits", () => {
    const json = synth(envConfig("prod"));
    const c = podSpec(onlyResource(json, "kubernetes_deployment_v1")).container[0];
    expect(c.resources).toEqual({ requests: { cpu: "1", memory: "2Gi" }, limits: { memory: "4Gi" } });
    expect(c.args[c.args.indexOf("--workers") + 1]).toBe("4");
    expect(onlyResource(json, "kubernetes_deployment_v1").spec.replicas).toBe("3");
    expect(c.args[c.args.indexOf("--allowed-hosts") + 1].split(",")).toEqual(
      expect.arrayContaining(["mlflow.example.com", "mlflow.example.com:443"]),
    );
  });

  it("a fixed replica count (min = max) has no HPA and Terraform owns the replicas", () => {
    const json = synth(envConfig("staging", { mlflow: { replicas: { min: 2, max: 2 } } }));
    expect(resourcesOf(json, "kubernetes_horizontal_pod_autoscaler_v2")).toEqual({});
    expect(onlyResource(json, "kubernetes_deployment_v1").lifecycle).toBeUndefined();
    expect(Object.keys(resourcesOf(json, "kubernetes_pod_disruption_budget_v1"))).toHaveLength(1);
  });
});

describe("options", () => {
  it("annotates the ServiceAccount for IRSA", () => {
    const json = synth(envConfig("dev"), {
      identity: { ...identity, serviceAccountAnnotations: { "eks.amazonaws.com/role-arn": identity.roleArn } },
    });
    expect(onlyResource(json, "kubernetes_service_account_v1").metadata.annotations).toEqual({
      "eks.amazonaws.com/role-arn": identity.roleArn,
    });
  });

  it("passes the read-replica URI when the backend store has a replica", () => {
    const json = synth(envConfig("dev"), { backendStore: { ...backendStore, readReplicaHost: "replica.example.internal" } });
    const c = podSpec(onlyResource(json, "kubernetes_deployment_v1")).container[0];
    expect(c.env).toContainEqual({
      name: "MLFLOW_READ_REPLICA_BACKEND_STORE_URI",
      value: "postgresql+psycopg2://$(MLFLOW_DB_USER)@replica.example.internal:5432/mlflow?sslmode=require",
    });
    expect(c.args[c.args.indexOf("--read-replica-backend-store-uri") + 1]).toBe("$(MLFLOW_READ_REPLICA_BACKEND_STORE_URI)");
  });

  it("a new MLflow version (or image) means a new migration Job, hence a new run before the rollout", () => {
    expect(migrationJobName(props(envConfig("dev", { mlflow: { version: "3.18.0" } })))).toBe("mlflow-tracking-db-upgrade-3-18-0");
    const custom = migrationJobName(props(envConfig("dev", { mlflow: { image: "registry.example.com/mlflow:3.17.2-r2" } })));
    expect(custom).toMatch(/^mlflow-tracking-db-upgrade-3-17-2-[0-9a-z]+$/);
    expect(custom).not.toBe(migrationJobName(props(envConfig("dev", { mlflow: { image: "registry.example.com/mlflow:3.17.2-r3" } }))));
    const json = synth(envConfig("dev", { mlflow: { version: "3.18.0" } }));
    expect(onlyResource(json, "kubernetes_job_v1").metadata.name).toBe("mlflow-tracking-db-upgrade-3-18-0");
    expect(podSpec(onlyResource(json, "kubernetes_deployment_v1")).container[0].image).toBe("ghcr.io/mlflow/mlflow:v3.18.0-full");
  });

  it("gc schedule and retention come from configuration", () => {
    const json = synth(envConfig("dev", { mlflow: { gc: { schedule: "0 1 * * 0", olderThanDays: 90 } } }));
    const cron = onlyResource(json, "kubernetes_cron_job_v1");
    expect(cron.spec.schedule).toBe("0 1 * * 0");
    expect(cronPodSpec(cron).container[0].args.slice(0, 3)).toEqual(["gc", "--older-than", "90d"]);
  });

  it("a custom monitoring namespace and Prometheus labels, no NetworkPolicy when turned off, a fixed replica count when autoscaling is off", () => {
    const np = onlyResource(synth(envConfig("dev"), { monitoringNamespace: "observability" }), "kubernetes_network_policy_v1");
    expect(np.spec.ingress[0].from[1]).toEqual({
      namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "observability" } },
      pod_selector: { match_labels: { "app.kubernetes.io/name": "prometheus" } },
    });
    const custom = onlyResource(
      synth(envConfig("dev"), { prometheusPodLabels: { app: "prometheus", release: "prom" } }),
      "kubernetes_network_policy_v1",
    );
    expect(custom.spec.ingress[0].from[1]).toEqual({
      namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "monitoring" } },
      pod_selector: { match_labels: { app: "prometheus", release: "prom" } },
    });
    expect(resourcesOf(synth(envConfig("dev"), { networkPolicy: false }), "kubernetes_network_policy_v1")).toEqual({});
    expect(resourcesOf(synth(envConfig("dev"), { autoscaling: false }), "kubernetes_horizontal_pod_autoscaler_v2")).toEqual({});
  });

  it("every resource waits for what dependsOn names (the namespace): none can be created before it", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "test");
    new KubernetesProvider(stack, "kubernetes", {});
    const ns = new NamespaceV1(stack, "ns", { metadata: { name: "mlflow" } });
    // Staging: two replicas (a PodDisruptionBudget) and autoscaling (an HPA).
    new TrackingServer(stack, "tracking-server", props(envConfig("staging"), { dependsOn: [ns] }));
    const json = JSON.parse(Testing.synth(stack)) as TfJson;
    const types = [
      "kubernetes_service_account_v1",
      "kubernetes_job_v1",
      "kubernetes_deployment_v1",
      "kubernetes_service_v1",
      "kubernetes_pod_disruption_budget_v1",
      "kubernetes_horizontal_pod_autoscaler_v2",
      "kubernetes_cron_job_v1",
      "kubernetes_network_policy_v1",
    ];
    for (const t of types) {
      const r = onlyResource(json, t);
      expect(r.metadata.namespace).toBe("mlflow");
      expect([t, r.depends_on]).toEqual([t, expect.arrayContaining(["kubernetes_namespace_v1.ns"])]);
    }
  });

  it("exposes the contract the proxy and monitoring use", () => {
    const stack = new TerraformStack(Testing.app(), "test");
    const ts = new TrackingServer(stack, "ts", props(envConfig("dev")));
    expect(ts.contract).toEqual({
      namespace: "mlflow",
      serviceName: "mlflow-tracking",
      port: 5000,
      portName: "http",
      podLabels: {
        "app.kubernetes.io/name": "mlflow",
        "app.kubernetes.io/instance": "mlflow-dev",
        "app.kubernetes.io/component": "tracking-server",
      },
      serviceLabels: expect.objectContaining({ "app.kubernetes.io/component": "tracking-server", "app.kubernetes.io/version": "3.17.2" }),
      metricsPath: "/metrics",
    });
  });
});

describe("bad input fails at synth with the field and the fix", () => {
  const dev = envConfig("dev");
  const withMlflow = (m: Partial<EnvironmentConfig["mlflow"]>): EnvironmentConfig => ({ ...dev, mlflow: { ...dev.mlflow, ...m } });
  const cases: [string, () => void, RegExp][] = [
    ["workers below one", build(withMlflow({ workers: 0 })), /workers is 0: expected a whole number of at least 1/],
    [
      "replicas below one",
      build(withMlflow({ replicas: { min: 0, max: 2 } })),
      /replicas\.min is 0: expected a whole number of at least 1/,
    ],
    [
      "min replicas above max",
      build(withMlflow({ replicas: { min: 3, max: 2 } })),
      /replicas\.min is 3: expected at most replicas\.max \(2\)/,
    ],
    [
      "memory limit below request",
      build(withMlflow({ resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { memory: "1Gi" } } })),
      /resources\.limits\.memory is "1Gi": expected at least the memory request \(2Gi\)/,
    ],
    [
      "image without tag or digest",
      build(withMlflow({ image: "ghcr.io/mlflow/mlflow" })),
      /image is "ghcr\.io\/mlflow\/mlflow": expected an image reference with an exact tag or digest/,
    ],
    [
      "image on latest",
      build(withMlflow({ image: "ghcr.io/mlflow/mlflow:latest" })),
      /image is "ghcr\.io\/mlflow\/mlflow:latest": expected an image reference with an exact tag or digest/,
    ],
    [
      "gc retention below one day",
      build(withMlflow({ gc: { schedule: "30 3 * * *", olderThanDays: 0 } })),
      /gc\.olderThanDays is 0: expected a whole number of days of at least 1/,
    ],
    [
      "empty proxy selector",
      build(dev, { authProxyPodLabels: {} }),
      /authProxyPodLabels is \{\}: expected the labels of the authenticating proxy's pods/,
    ],
    [
      "proxy selector that matches the server",
      build(dev, { authProxyPodLabels: { "app.kubernetes.io/name": "mlflow" } }),
      /authProxyPodLabels is .*: expected labels that select only the proxy/,
    ],
    [
      "artifact destination that is neither S3, Cloud Storage nor Azure Blob",
      build(dev, { artifactStore: { ...artifactStore, destinationUri: "/mnt/artifacts" } }),
      /artifactStore\.destinationUri is "\/mnt\/artifacts": expected an s3:\/\/<bucket>\/<prefix>, gs:\/\/<bucket>\/<prefix> or wasbs:\/\/<container>@<account>.blob.core.windows.net\/<prefix> URI/,
    ],
    ["root user", build(dev, { runAsUser: 0 }), /runAsUser is 0: expected a non-zero user id/],
    [
      "empty Prometheus selector",
      build(dev, { prometheusPodLabels: {} }),
      /prometheusPodLabels is \{\}: expected the labels of the Prometheus pods.*must not be empty/,
    ],
    [
      "invalid Prometheus label",
      build(dev, { prometheusPodLabels: { "app.kubernetes.io/name": "prom etheus" } }),
      /prometheusPodLabels is .*has an invalid value "prom etheus"/,
    ],
    [
      "missing Secret key",
      build(dev, { backendStore: { ...backendStore, credentials: { ...backendStore.credentials, passwordKey: "" } } }),
      /backendStore\.credentials\.passwordKey is "": expected a non-empty name/,
    ],
  ];
  it.each(cases)("%s", (_name, fn, message) => {
    expect(fn).toThrow(message);
  });

  it("the shipped configuration builds", () => {
    for (const name of SHIPPED) expect(build(configured(name))).not.toThrow();
  });
});

describe("no secret literal in any container argument or env value", () => {
  it("the checker finds planted secrets (it can fail)", () => {
    const planted: TfJson = {
      resource: {
        kubernetes_deployment_v1: {
          x: {
            spec: {
              template: {
                spec: {
                  container: [
                    {
                      args: ["--client-secret=abc", "--db", "postgresql://u:p@h/db"],
                      env: [
                        { name: "DB_PASSWORD", value: "hunter2" },
                        { name: "SKIP_JWT_BEARER_TOKENS", value: "true" },
                      ],
                    },
                  ],
                },
              },
            },
          },
        },
      },
    };
    expect(secretLiterals(planted)).toEqual([
      "kubernetes_deployment_v1.x: env DB_PASSWORD is a literal",
      "kubernetes_deployment_v1.x: argument --client-secret=abc",
      "kubernetes_deployment_v1.x: argument postgresql://u:p@h/db",
      "kubernetes_deployment_v1.x: command line --client-secret=abc --db postgresql://u:p@h/db",
    ]);
  });

  it.each(SHIPPED)("%s: the tracking server, its Job and CronJob", (name) => {
    const config = configured(name);
    const json = synth(config, { backendStore: { ...backendStore, readReplicaHost: "replica.example.internal" } });
    // With teams, the access sync Job's container too.
    expect(containersOf(json)).toHaveLength(teamsEnabled(config) ? 4 : 3);
    expect(secretLiterals(json)).toEqual([]);
  });
});

describe("the Deployment's container, rendered exactly as Kubernetes runs it, is a valid `mlflow server` command line", () => {
  const config = envConfig("prod");
  const json = synth(config, { backendStore: { ...backendStore, readReplicaHost: "replica.example.internal" } });
  const fromJson = (c: Record<string, any>) =>
    renderProcess(commandOf(c), (e) => {
      if ("secretKeyRef" in e) return e.secretKeyRef.key === "password" ? "pw-not-in-argv" : "mlflow_admin";
      throw new Error(`unexpected reference ${e.name}`);
    });
  const server = fromJson(podSpec(onlyResource(json, "kubernetes_deployment_v1")).container[0]);
  const upgrade = fromJson(podSpec(onlyResource(json, "kubernetes_job_v1")).container[0]);
  const gc = fromJson(cronPodSpec(onlyResource(json, "kubernetes_cron_job_v1")).container[0]);

  it("is parsed by the pinned MLflow's CLI as intended, and so are the Job's and the CronJob's", async () => {
    const [s, u, g] = await mlflowCliParse([
      { process: server, hostProbes: ["mlflow.example.com", "mlflow.example.com:443", "evil.example.com"] },
      { process: upgrade },
      { process: gc },
    ]);
    expect(s.error).toBeUndefined();
    expect(s.mlflowVersion).toBe(config.mlflow.version);
    expect(s.command).toBe("server");
    expect(s.params).toMatchObject({
      backend_store_uri: `postgresql+psycopg2://mlflow_admin@${backendStore.host}:5432/mlflow?sslmode=require`,
      read_replica_backend_store_uri: "postgresql+psycopg2://mlflow_admin@replica.example.internal:5432/mlflow?sslmode=require",
      serve_artifacts: true,
      artifacts_destination: artifactStore.destinationUri,
      host: "0.0.0.0",
      port: 5000,
      workers: "4",
      expose_prometheus: "/var/run/mlflow/prometheus",
      // MLflow's app inside the platform's guard (constructs/tracking-server/guard-command.ts).
      app_name: "platform-guard",
    });
    expect(s.uvicorn).toMatchObject({ workers: 4, timeout_keep_alive: 605 });
    expect(s.hostCheck).toEqual({ "mlflow.example.com": true, "mlflow.example.com:443": true, "evil.example.com": false });
    expect(u).toMatchObject({
      command: "db upgrade",
      params: { url: `postgresql+psycopg2://mlflow_admin@${backendStore.host}:5432/mlflow?sslmode=require` },
    });
    expect(g).toMatchObject({ command: "gc", params: { older_than: "30d", artifacts_destination: artifactStore.destinationUri } });
    for (const p of [server, upgrade, gc]) expect(p.argv.join(" ")).not.toContain("pw-not-in-argv");
  }, 120_000);
});

describe("wired into the environment stacks", () => {
  it.each(SHIPPED)("%s: no container argument or env value in the whole stack contains a secret literal", (name) => {
    const json = synthJson(configured(name));
    expect(containersOf(json).length).toBeGreaterThanOrEqual(3);
    expect(secretLiterals(json)).toEqual([]);
  });

  it.each(SHIPPED)(
    "%s: the tracking server reads the backend store's database and Secret, the identity's ServiceAccount and the artifact store's bucket",
    (name) => {
      const config = configured(name);
      const json = synthJson(config);
      const deployment = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find((d) => d.metadata.name === "mlflow-tracking")!;
      expect(deployment).toBeDefined();
      const c = podSpec(deployment).container[0];
      const uri = c.env.find((e: any) => e.name === "MLFLOW_BACKEND_STORE_URI").value;
      expect(uri).toMatch(
        /^postgresql\+psycopg2:\/\/\$\(MLFLOW_DB_USER\)@\$\{aws_db_instance\.[^}]+\.address\}:5432\/mlflow\?sslmode=require$/,
      );
      expect(c.args[c.args.indexOf("--artifacts-destination") + 1]).toMatch(/^s3:\/\/.+\/mlartifacts$/);
      const secret = Object.values(resourcesOf(json, "kubernetes_secret_v1")).find(
        (s) => s.metadata.name === c.env.find((e: any) => e.name === "PGPASSWORD").value_from.secret_key_ref.name,
      );
      expect(secret).toBeDefined();
      expect(Object.keys(secret!.data)).toEqual(expect.arrayContaining(["username", "password"]));
      const sa = Object.values(resourcesOf(json, "kubernetes_service_account_v1")).find((s) => s.metadata.name === "mlflow");
      expect(sa).toBeDefined();
      if (config.identity.mode === "irsa") {
        // IRSA: the ServiceAccount names the role whose trust names it.
        expect(sa!.metadata.annotations["eks.amazonaws.com/role-arn"]).toMatch(/aws_iam_role\.tracking_identity_role_[0-9A-F]+\.arn/);
        return;
      }
      const association = Object.values(resourcesOf(json, "aws_eks_pod_identity_association"));
      // The tracking server's association (other constructs, such as Grafana's, have their own).
      expect(
        association.filter((a) => a.namespace === "mlflow" && a.service_account === "mlflow").map((a) => [a.namespace, a.service_account]),
      ).toEqual([["mlflow", "mlflow"]]);
    },
  );
});

describe("TCP_NODELAY module (keep-alive latency)", () => {
  const json = synth(envConfig("dev"));
  const server = podSpec(onlyResource(json, "kubernetes_deployment_v1")).container[0];
  // The tracking server also ships its guard in a ConfigMap (tracking-guard.ts): pick the module's by address.
  const siteKey = (j: TfJson) => Object.keys(resourcesOf(j, "kubernetes_config_map_v1")).filter((k) => k.includes("python-site"));
  const pythonPath = (c: any): string[] => (c.env.find((e: any) => e.name === "PYTHONPATH")?.value ?? "").split(":").filter(Boolean);

  it("ships the module in a ConfigMap, mounted read-only where PYTHONPATH points, only into the server", () => {
    expect(siteKey(json)).toHaveLength(1);
    const cm = resourcesOf(json, "kubernetes_config_map_v1")[siteKey(json)[0]];
    expect(cm.metadata).toMatchObject({ name: "mlflow-tracking-python-site", namespace: "mlflow" });
    expect(cm.data).toEqual({ [SITECUSTOMIZE_KEY]: TCP_NODELAY_SITECUSTOMIZE });
    const volume = podSpec(onlyResource(json, "kubernetes_deployment_v1")).volume.find(
      (v: any) => v.config_map?.name === "mlflow-tracking-python-site",
    );
    expect(volume.config_map).toEqual({
      name: "mlflow-tracking-python-site",
      items: [{ key: SITECUSTOMIZE_KEY, path: SITECUSTOMIZE_KEY }],
      default_mode: "0444",
    });
    expect(server.volume_mount).toContainEqual({ name: volume.name, mount_path: PYTHON_SITE_DIR, read_only: true });
    expect(pythonPath(server)).toContain(PYTHON_SITE_DIR);
    for (const c of [
      podSpec(onlyResource(json, "kubernetes_job_v1")).container[0],
      cronPodSpec(onlyResource(json, "kubernetes_cron_job_v1")).container[0],
    ]) {
      expect(c.env.map((e: any) => e.name)).not.toContain("PYTHONPATH");
    }
  });

  it("the Deployment waits for the ConfigMap", () => {
    expect(onlyResource(json, "kubernetes_deployment_v1").depends_on).toContain(`kubernetes_config_map_v1.${siteKey(json)[0]}`);
  });

  it("can be turned off (an image with its own sitecustomize)", () => {
    const off = synth(envConfig("dev"), { tcpNoDelay: false });
    expect(siteKey(off)).toEqual([]);
    expect(pythonPath(podSpec(onlyResource(off, "kubernetes_deployment_v1")).container[0])).not.toContain(PYTHON_SITE_DIR);
  });
});

describe("the identity's pod labels (Azure Workload Identity's webhook selects pods by label)", () => {
  const use = { "azure.workload.identity/use": "true" };
  const withLabels = synth(envConfig("dev"), { identity: { ...identity, podLabels: use } });
  const templates = (json: TfJson) => ({
    server: onlyResource(json, "kubernetes_deployment_v1").spec.template.metadata.labels,
    migration: onlyResource(json, "kubernetes_job_v1").spec.template.metadata.labels,
    gc: onlyResource(json, "kubernetes_cron_job_v1").spec.job_template.spec.template.metadata.labels,
  });

  it("are on the pods of the server, its migration Job and its gc CronJob, beside their own labels", () => {
    const own = templates(synth(envConfig("dev")));
    for (const [what, labels] of Object.entries(templates(withLabels)))
      expect([what, labels]).toEqual([what, { ...use, ...own[what as "server"] }]);
  });

  it("select nothing: the Deployment's selector, the Service and the NetworkPolicy keep the construct's own labels", () => {
    const deployment = onlyResource(withLabels, "kubernetes_deployment_v1");
    expect(deployment.spec.selector.match_labels).not.toHaveProperty(["azure.workload.identity/use"]);
    expect(onlyResource(withLabels, "kubernetes_service_v1").spec.selector).not.toHaveProperty(["azure.workload.identity/use"]);
    expect(deployment.metadata.labels).not.toHaveProperty(["azure.workload.identity/use"]);
  });

  it("absent (AWS, GCP): the pod templates carry the construct's labels only", () => {
    for (const labels of Object.values(templates(synth(envConfig("dev")))))
      expect(Object.keys(labels).some((k) => k.startsWith("azure."))).toBe(false);
  });

  it("are refused when Kubernetes would refuse them, or when they would take over the construct's own labels", () => {
    expect(build(envConfig("dev"), { identity: { ...identity, podLabels: { "azure.workload.identity/use": "yes please" } } })).toThrow(
      /identity.podLabels.*has an invalid value/,
    );
    expect(build(envConfig("dev"), { identity: { ...identity, podLabels: { "app.kubernetes.io/component": "x" } } })).toThrow(
      /not app.kubernetes.io\/component/,
    );
  });
});

describe("the artifact destination", () => {
  it.each([
    ["s3://mlflow-dev-artifacts/mlartifacts", true],
    ["gs://mlflow_dev-artifacts/mlartifacts", true],
    ["wasbs://mlflow@mlflowdev0b1f64.blob.core.windows.net/mlartifacts", true],
    ["wasb://mlflow@mlflowdev0b1f64.blob.core.windows.net/mlartifacts", false],
    ["wasbs://mlflow@mlflow-dev.blob.core.windows.net/mlartifacts", false],
    ["wasbs://ML@mlflowdev.blob.core.windows.net/mlartifacts", false],
    ["https://mlflowdev.blob.core.windows.net/mlflow/mlartifacts", false],
  ])("%s is accepted: %s (MLflow's S3, GCS and Azure Blob repositories; wasbs only, over TLS)", (destinationUri, ok) => {
    const fn = build(envConfig("dev"), { artifactStore: { ...artifactStore, destinationUri } });
    if (ok) expect(fn).not.toThrow();
    else expect(fn).toThrow(/artifactStore.destinationUri .*wasbs:\/\/<container>@<account>/);
  });
});
