/**
 * Progressive delivery of a model endpoint with Argo Rollouts (pinned v1.8.3, see
 * constructs/argo-rollouts/index.ts): the Rollout, its AnalysisTemplates and the pre-promotion smoke test Job,
 * as plain Kubernetes objects that the endpoint's local chart writes out (so no CRD is needed at plan time).
 *
 * The Rollout references the endpoint's Deployment (`workloadRef`): the pod template stays in the
 * Deployment that Terraform validates at plan time and that the end-to-end run starts for real; the
 * Deployment itself runs no pods (replicas 0) and the Rollout's ReplicaSets do. A new release changes the
 * Deployment's template (image digest, `--model-version`), which the controller turns into:
 *
 * - blueGreen: new pods behind the preview Service -> pre-promotion analysis (the smoke Job sends the
 *   workflow's `POST /predict` to the preview Service) -> promotion (automatic, or `kubectl argo rollouts
 *   promote` when `autoPromotionEnabled` is false) -> post-promotion analysis on the server's own metrics
 *   (5xx ratio, p99 of the new version); a failed analysis aborts and the active Service goes back to the
 *   previous ReplicaSet, which is kept until the analysis passed.
 * - canary: the new pods take `canaryWeights` of the replicas step by step (no traffic router: the share
 *   is by replica count), the smoke Job runs against the canary Service first, the metric analysis runs
 *   in the background; a failure aborts and scales the canary away.
 */
import type { ContainerCommand } from "../core/command-types";
import { PropError } from "../core/prop-error";
import { analysisMetrics, type AnalysisThresholds } from "./analysis";
import { labelValue, podSelectorLabels } from "../core/labels";

export type DeliveryStrategy = "blueGreen" | "canary" | "rollingUpdate";

/** How a new release reaches traffic. */
export interface ModelDelivery {
  /** @default "rollingUpdate" (no controller needed); the configuration's default is "blueGreen". */
  readonly strategy?: DeliveryStrategy;
  /** blueGreen: promote automatically after the pre-promotion analysis passed. @default true */
  readonly autoPromotionEnabled?: boolean;
  /** canary: increasing traffic shares in percent. @default [25, 50] */
  readonly canaryWeights?: readonly number[];
  /** canary: seconds each share is held. @default 120 */
  readonly pauseSeconds?: number;
  /** Thresholds and window of the metric analysis. @default see {@link AnalysisThresholds} */
  readonly analysis?: AnalysisThresholds & {
    /** Seconds between measurements. @default 30 */
    readonly intervalSeconds?: number;
    /** Measurements per analysis run. @default 4 */
    readonly count?: number;
  };
  /** Prometheus the analysis queries. Required unless the strategy is rollingUpdate. */
  readonly prometheusUrl?: string;
}

/** Labels of the smoke test's pods (the model's NetworkPolicy admits them; their own policy lets them out). */
export function smokeTestPodLabels(instance: string): Record<string, string> {
  return podSelectorLabels("model-smoke-test", labelValue(instance), "smoke-test");
}

export interface RolloutInputs {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly podLabels: Record<string, string>;
  readonly modelName: string;
  readonly version: string;
  readonly replicas: number;
  /** The Deployment whose pod template the Rollout runs. */
  readonly deploymentName: string;
  readonly activeService: string;
  readonly previewService: string;
  readonly delivery: Required<Pick<ModelDelivery, "strategy">> & ModelDelivery;
  /** The smoke test's container command (constructs/model-endpoint/smoke-test-command.ts). */
  readonly smoke: ContainerCommand;
  readonly smokePodLabels: Record<string, string>;
  readonly uid: number;
}

/** `sha256`-pinned or not, an object name never longer than 63 characters. */
const short = (s: string) => s.slice(0, 63).replace(/-+$/, "");

/** The Rollout, the metric AnalysisTemplate and the smoke AnalysisTemplate (with its Job). */
export function rolloutObjects(i: RolloutInputs): Record<string, unknown>[] {
  const d = i.delivery;
  if (d.strategy === "rollingUpdate") return [];
  if (!d.prometheusUrl)
    throw new PropError(
      i.name,
      "delivery.prometheusUrl",
      d.prometheusUrl,
      `the URL of the Prometheus the ${d.strategy} strategy's analysis queries`,
    );
  const a = d.analysis ?? {};
  const interval = `${a.intervalSeconds ?? 30}s`;
  const count = a.count ?? 4;
  const analysisName = short(`${i.name}-analysis`);
  const smokeName = short(`${i.name}-smoke`);
  const meta = (name: string) => ({ name, namespace: i.namespace, labels: i.labels });

  const metricsTemplate = {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AnalysisTemplate",
    metadata: meta(analysisName),
    spec: {
      args: [{ name: "version" }],
      metrics: analysisMetrics(i.modelName, "{{args.version}}", a).map((m) => ({
        name: m.name,
        interval,
        count,
        // One bad measurement aborts (and so rolls back); Prometheus unreachable three times in a row too.
        failureLimit: 0,
        consecutiveErrorLimit: 3,
        // No traffic yet gives no series (or NaN): nothing bad was observed, so it passes.
        successCondition: `len(result) == 0 || isNaN(result[0]) || result[0] <= ${m.max}`,
        provider: { prometheus: { address: d.prometheusUrl, query: m.query } },
      })),
    },
  };

  const tmp = { name: "tmp", mountPath: "/tmp" };
  const smokeTemplate = {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AnalysisTemplate",
    metadata: meta(smokeName),
    spec: {
      metrics: [
        {
          name: "smoke-test",
          count: 1,
          failureLimit: 0,
          provider: {
            job: {
              metadata: { labels: i.smokePodLabels },
              spec: {
                backoffLimit: 0,
                activeDeadlineSeconds: 180,
                template: {
                  metadata: { labels: i.smokePodLabels },
                  spec: {
                    restartPolicy: "Never",
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    securityContext: {
                      runAsNonRoot: true,
                      runAsUser: i.uid,
                      runAsGroup: i.uid,
                      seccompProfile: { type: "RuntimeDefault" },
                    },
                    containers: [
                      {
                        name: "smoke-test",
                        image: i.smoke.image,
                        imagePullPolicy: "IfNotPresent",
                        command: [...i.smoke.command],
                        args: [...i.smoke.args],
                        env: i.smoke.env.map((e) => ({ ...e })),
                        workingDir: "/tmp",
                        securityContext: {
                          allowPrivilegeEscalation: false,
                          readOnlyRootFilesystem: true,
                          runAsNonRoot: true,
                          capabilities: { drop: ["ALL"] },
                          seccompProfile: { type: "RuntimeDefault" },
                        },
                        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                        volumeMounts: [tmp],
                      },
                    ],
                    volumes: [{ name: "tmp", emptyDir: { sizeLimit: "16Mi" } }],
                  },
                },
              },
            },
          },
        },
      ],
    },
  };

  const args = [{ name: "version", value: i.version }];
  const strategy =
    d.strategy === "blueGreen"
      ? {
          blueGreen: {
            activeService: i.activeService,
            previewService: i.previewService,
            autoPromotionEnabled: d.autoPromotionEnabled ?? true,
            prePromotionAnalysis: { templates: [{ templateName: smokeName }] },
            // Without scaleDownDelaySeconds the previous ReplicaSet stays up until this analysis completed,
            // so an abort switches the active Service straight back to pods that are still running.
            postPromotionAnalysis: { templates: [{ templateName: analysisName }], args },
          },
        }
      : {
          canary: {
            // No traffic router: the share is the share of replicas. The canary Service selects only the
            // new pods, for the smoke test; the main Service keeps selecting both.
            canaryService: i.previewService,
            maxSurge: "25%",
            maxUnavailable: 0,
            analysis: { templates: [{ templateName: analysisName }], args, startingStep: 1 },
            steps: (d.canaryWeights ?? [25, 50]).flatMap((w, n) => [
              { setWeight: w },
              ...(n === 0 ? [{ analysis: { templates: [{ templateName: smokeName }] } }] : []),
              { pause: { duration: `${d.pauseSeconds ?? 120}s` } },
            ]),
          },
        };
  const rollout = {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Rollout",
    metadata: meta(i.name),
    spec: {
      replicas: i.replicas,
      revisionHistoryLimit: 5,
      selector: { matchLabels: i.podLabels },
      // The pod template is the Deployment's (which runs no pods itself: replicas 0).
      workloadRef: { apiVersion: "apps/v1", kind: "Deployment", name: i.deploymentName, scaleDown: "never" },
      strategy,
    },
  };
  return [rollout, metricsTemplate, smokeTemplate];
}
