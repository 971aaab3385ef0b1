/**
 * The training pipeline's steps as pure values: train, evaluate against the version holding
 * the target alias, register, run the registry gates, tag the version `production-ready`. The Training
 * construct writes them into the WorkflowTemplate (one Argo template per step); the end-to-end harness
 * reads them back from the synthesized WorkflowTemplate and runs them, in order, against the platform.
 *
 * Identity: no static secret. Each step's pod mounts a projected service-account token with a dedicated
 * audience (`training.identity.audience`) at {@link TRAINING_TOKEN_PATH}; every step's command starts
 * with a shell line that reads it into MLFLOW_TRACKING_TOKEN (the MLflow client sends it as
 * `Authorization: Bearer`), so the token is never in the arguments nor in the pod spec. The platform's
 * OAuth2 Proxy accepts it as an extra JWT issuer (see docs/training-pipelines.md).
 *
 * Placeholders are Argo's: `{{workflow.parameters.x}}` and `{{inputs.parameters.x}}`; outputs are files
 * under {@link TRAINING_OUTPUTS_DIR} that the template declares as output parameters.
 */

/** The pipeline's steps, in order (config/training.ts's `TRAINING_STEPS`). */
export type TrainingStep = "train" | "evaluate" | "register" | "gates" | "tag";

/** What the pipeline's commands read of an environment (an EnvironmentConfig is one). */
export interface TrainingEnvironment {
  /** The public hostname the steps reach MLflow through (the proxy verifies their token). */
  readonly hostname: string;
  readonly training: {
    readonly image: string;
    readonly parameters: Readonly<Record<string, string>>;
    readonly experiment?: string;
    readonly modelName: string;
    readonly target: string;
    readonly readyTag: string;
  };
}
import type { ContainerCommand, EnvVar } from "../core/command-types";

/**
 * The platform's public URL: workflow pods are clients like any other (TLS to the load balancer, then
 * the proxy verifies the token); they get no path around the proxy.
 */
export function publicTrackingUrl(config: TrainingEnvironment): string {
  return `https://${config.hostname}`;
}

/** Where the training image keeps the MLproject (examples/ of this repository). */
export const TRAINING_PROJECT_DIR = "/app/examples";
/** The projected service-account token (audience training.identity.audience). */
export const TRAINING_TOKEN_DIR = "/var/run/secrets/mlflow-platform";
export const TRAINING_TOKEN_PATH = `${TRAINING_TOKEN_DIR}/token`;
/** Scratch and output files of a step (an emptyDir). */
export const TRAINING_OUTPUTS_DIR = "/tmp/outputs";
/** Writable scratch space (HOME, TMPDIR). */
export const TRAINING_TMP_DIR = "/tmp";
/** The gate definitions the gates step reads (a ConfigMap, rendered from configuration). */
export const TRAINING_GATES_PATH = "/etc/mlflow-platform/gates.json";
export const TRAINING_GATES_CONFIGMAP = "training-registry-gates";
export const TRAINING_GATES_KEY = "gates.json";
/** UID of the training image's user (images/training/Dockerfile). */
export const TRAINING_UID = "10001";

/**
 * The first thing every step runs: the token file into MLFLOW_TRACKING_TOKEN, then the step itself
 * (`exec "$@"`). `$0` is the step's name, in logs only.
 */
export const TOKEN_WRAPPER = 'MLFLOW_TRACKING_TOKEN="$(cat "$MLFLOW_PLATFORM_TOKEN_FILE")" && export MLFLOW_TRACKING_TOKEN && exec "$@"';

/** One step: its command and the output parameters it writes (name -> file). */
export interface TrainingStepCommand {
  readonly step: TrainingStep;
  readonly command: ContainerCommand;
  /** The template's input parameters (filled from earlier steps' outputs). */
  readonly inputs: readonly string[];
  /** Output parameters: name -> file the step writes. */
  readonly outputs: Readonly<Record<string, string>>;
}

/** The pipeline's workflow parameters (name -> default): training parameters, experiment and model. */
export function trainingWorkflowParameters(config: TrainingEnvironment): Record<string, string> {
  const t = config.training;
  return { ...t.parameters, experiment: t.experiment ?? t.modelName, model: t.modelName, "git-sha": "" };
}

const out = (name: string) => `${TRAINING_OUTPUTS_DIR}/${name}`;

/**
 * The environment variable naming the MLflow workspace a client works in: MLflow 3.17's client sends it as the
 * X-MLFLOW-WORKSPACE header of every REST call (mlflow.utils.workspace_context.get_request_workspace, read by
 * mlflow.utils.rest_utils); without it, a server with workspaces puts everything in its default workspace.
 */
export const MLFLOW_WORKSPACE_ENV = "MLFLOW_WORKSPACE";

/**
 * Every step's command, in the pipeline's order. `workspace`: with teams, the MLflow workspace of the
 * pipeline's team (the only one its identity has a role in); without it, the steps name none.
 */
export function trainingStepCommands(config: TrainingEnvironment, workspace?: string): TrainingStepCommand[] {
  const t = config.training;
  const env: EnvVar[] = [
    { name: "HOME", value: TRAINING_TMP_DIR },
    { name: "TMPDIR", value: TRAINING_TMP_DIR },
    { name: "PYTHONUNBUFFERED", value: "1" },
    { name: "MLFLOW_DISABLE_TELEMETRY", value: "true" },
    // Through the public entry and the proxy, like any client: the proxy verifies the token.
    { name: "MLFLOW_TRACKING_URI", value: publicTrackingUrl(config) },
    { name: "MLFLOW_PLATFORM_TOKEN_FILE", value: TRAINING_TOKEN_PATH },
    // The image records the commit it was built from; a submission may name one explicitly.
    { name: "MLFLOW_PLATFORM_WORKFLOW", value: "{{workflow.namespace}}/{{workflow.name}}" },
    ...(workspace === undefined ? [] : [{ name: MLFLOW_WORKSPACE_ENV, value: workspace }]),
  ];
  const step = (name: TrainingStep, argv: string[], extraEnv: EnvVar[] = []): ContainerCommand => ({
    image: t.image,
    command: ["/bin/sh", "-c", TOKEN_WRAPPER, name],
    args: argv,
    env: [...env, ...extraEnv],
  });
  const params = Object.keys(t.parameters).flatMap((p) => ["-P", `${p}={{workflow.parameters.${p}}}`]);
  const mlflowRun = (entry: string, extra: string[]) => [
    "mlflow",
    "run",
    TRAINING_PROJECT_DIR,
    "-e",
    entry,
    "--env-manager",
    "local",
    "--experiment-name",
    "{{workflow.parameters.experiment}}",
    ...extra,
  ];
  return [
    {
      step: "train",
      inputs: [],
      outputs: { "run-id": out("run_id"), accuracy: out("accuracy") },
      command: step("train", mlflowRun("train", [...params, "-P", `outputs_dir=${TRAINING_OUTPUTS_DIR}`]), [
        { name: "GIT_SHA_OVERRIDE", value: "{{workflow.parameters.git-sha}}" },
      ]),
    },
    {
      step: "evaluate",
      inputs: ["run-id"],
      outputs: { validation: out("validation") },
      command: step(
        "evaluate",
        mlflowRun("evaluate", [
          "-P",
          "candidate_run_id={{inputs.parameters.run-id}}",
          "-P",
          "model_name={{workflow.parameters.model}}",
          "-P",
          `baseline_alias=${t.target}`,
          "-P",
          `outputs_dir=${TRAINING_OUTPUTS_DIR}`,
        ]),
      ),
    },
    {
      step: "register",
      inputs: ["run-id", "validation"],
      outputs: { version: out("version") },
      // The registry tool prints {"model", "version"} with --json; the version goes to its own file.
      command: step(
        "register",
        [
          "/bin/sh",
          "-c",
          `mlflow-platform registry register "$@" --json > ${out("register.json")} && python -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"], end="")' ${out("register.json")} > ${out("version")}`,
          "register",
          "--model",
          "{{workflow.parameters.model}}",
          "--run-id",
          "{{inputs.parameters.run-id}}",
          "--artifact-path",
          "model",
          "--tag",
          "validation={{inputs.parameters.validation}}",
          "--tag",
          "training.workflow={{workflow.namespace}}/{{workflow.name}}",
          "--description",
          "trained by {{workflow.namespace}}/{{workflow.name}}",
        ],
        [
          // Who started this run: the Argo Server labels a workflow submitted through its single sign-on with
          // the submitter's e-mail (workflows.argoproj.io/creator-email). The tool records it, and that person
          // may not approve the version (four eyes). Always defined ("{}" for a scheduled run).
          { name: "MLFLOW_PLATFORM_WORKFLOW_LABELS", value: "{{workflow.labels.json}}" },
        ],
      ),
    },
    {
      step: "gates",
      inputs: ["version"],
      outputs: {},
      // Exit 3 when a gate refuses: the workflow fails there and the tag step never runs.
      command: step("gates", [
        "mlflow-platform",
        "registry",
        "check",
        "--model",
        "{{workflow.parameters.model}}",
        "--version",
        "{{inputs.parameters.version}}",
        "--to",
        t.target,
        "--gates",
        TRAINING_GATES_PATH,
      ]),
    },
    {
      step: "tag",
      inputs: ["version"],
      outputs: {},
      command: step("tag", [
        "python",
        `${TRAINING_PROJECT_DIR}/mark_ready.py`,
        "--model",
        "{{workflow.parameters.model}}",
        "--version",
        "{{inputs.parameters.version}}",
        "--tag",
        t.readyTag,
        "--target",
        t.target,
      ]),
    },
  ];
}
