"""The MLflow platform's runtime: the code that runs in the platform's containers.

One package, one console script (``mlflow-platform``), one sub-command per process:

- ``mlflow-platform registry ...``  the registry tool for pipelines and people (issue 12)
- ``mlflow-platform events ...``    the registry events service (issue 12)
- ``mlflow-platform retention ...`` the model retention job (issue 12)
- ``mlflow-platform serve ...``     the model server (issue 13)

Each sub-command lives in its own sub-package and registers itself in ``cli.py``.
"""

__version__ = "0.1.0"
