"""The registry tool: register, promote, roll back and inspect model versions through MLflow's REST API.

A library (:mod:`.core`, :mod:`.gates`, :mod:`.history`, :mod:`.identity`) and the CLI
``mlflow-platform registry <register|promote|rollback|status|check|approve>`` (:mod:`.cli`).
Importing this package has no side effects: nothing talks to MLflow until a function is called.
See docs/model-registry.md.
"""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
