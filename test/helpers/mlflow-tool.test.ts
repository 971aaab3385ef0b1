/**
 * The one MLflow process the suites share (mlflow-tool.ts): what it runs is MLflow's own CLI in exactly
 * the environment asked for, failures come back as failures, and a killed request does not take the
 * process down. (Not here: stopping the shared process would break the other workers' requests.)
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { mlflowRun, mlflowTool, sendRequest, venvPythonRun } from "./mlflow-tool";

const PATH = { PATH: process.env.PATH ?? "" };

// Jest's default of 5 s is shorter than `mlflow --version` takes (importing MLflow) when the machine is loaded
// by other suites: a slow import is not a failure of what these tests check.
jest.setTimeout(30_000);

describe("the shared MLflow process", () => {
  it("runs the `mlflow` entry point: the pinned version answers, and an unknown command fails as it would", async () => {
    const version = await mlflowRun(["mlflow", "--version"], PATH, "/");
    expect(version).toEqual({ code: 0, output: expect.stringMatching(/^mlflow, version \d+\.\d+\.\d+/) });
    const unknown = await mlflowRun(["mlflow", "no-such-command"], PATH, "/");
    expect(unknown.code).toBe(2);
    expect(unknown.output).toMatch(/No such command 'no-such-command'/);
  });

  it("refuses anything but `mlflow` as the command", async () => {
    await expect(mlflowRun(["python", "-c", "print(1)"], PATH, "/")).rejects.toThrow(/entrypoint is 'python', not mlflow/);
  });

  it("gives each request exactly its own environment and working directory, and its exit code", async () => {
    const dir = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), "tool-cwd-"));
    const r = await mlflowTool<{ code: number; output: string }>({
      kind: "python",
      code: "import os, sys; print(sorted(k for k in os.environ if k != 'LC_CTYPE'), os.getcwd(), sys.argv[1:]); sys.exit(3)",
      argv: ["a b"],
      env: { ONLY_THIS: "1" },
      cwd: dir,
    });
    expect(r).toEqual({ code: 3, output: `['ONLY_THIS'] ${dir} ['a b']\n` });
    const after = await venvPythonRun("import os; print('ONLY_THIS' in os.environ)");
    expect(after.output.trim()).toBe("False");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reports an exception in the snippet as a failed run, with its traceback", async () => {
    const r = await venvPythonRun("raise ValueError('boom')");
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/ValueError: boom/);
  });

  it("a killed request ends without an answer, and the process goes on serving others", async () => {
    const slow = sendRequest<{ code: number }>({ kind: "python", code: "import time; time.sleep(60)", env: PATH });
    process.kill(await slow.pid, "SIGKILL");
    expect(await slow.answer).toBeUndefined();
    expect((await venvPythonRun("print(42)")).output).toBe("42\n");
  });
});
