"""The registry tool: register, promote, roll back and inspect model versions through MLflow's REST API.

A library (:mod:`.core`, :mod:`.gates`, :mod:`.history`, :mod:`.identity`) and the CLI
``mlflow-platform registry <register|promote|rollback|status|check|approve>`` (:mod:`.cli`).
Importing this package has no side effects: nothing talks to MLflow until a function is called.
See docs/model-registry.md.

Exit codes: the table of :mod:`mlflow_platform.common.errors` (3: refused by a gate).
"""
