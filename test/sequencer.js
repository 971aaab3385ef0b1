/**
 * Jest's own order (failed first, then slowest first, from the last run's timings), except that the
 * suites that talk to the run's MLflow process (test/helpers/mlflow-tool.ts) come first: they then run
 * close together at the start, and the process, which exits when idle, is gone for the rest of the run
 * instead of holding its memory next to the workers' (docs/benchmarks.md).
 */
const fs = require("fs");
const Sequencer = require("@jest/test-sequencer").default;

const USES_MLFLOW = /from "(\.\.?\/)+(helpers\/)?mlflow-(tool|cli)"/;

class PlatformSequencer extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    const mlflow = new Set(sorted.filter((t) => USES_MLFLOW.test(fs.readFileSync(t.path, "utf8"))));
    return [...sorted.filter((t) => mlflow.has(t)), ...sorted.filter((t) => !mlflow.has(t))];
  }
}

module.exports = PlatformSequencer;
