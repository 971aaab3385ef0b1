"""The MLflow platform's runtime: the code that runs in the platform's containers.

One package, one console script (``mlflow-platform``), one sub-command per process:

- ``mlflow-platform registry ...``  the registry tool for pipelines and people
- ``mlflow-platform events ...``    the registry events service
- ``mlflow-platform retention ...`` the model retention job
- ``mlflow-platform serve ...``     the model server (and its image's build context, its smoke test)
- ``mlflow-platform drift ...``     the drift job

Each sub-command lives in its own sub-package, whose entry module is ``cli.py``, and is listed in the
top-level ``cli.py``. What they share (exit codes, ``BadInput``, JSON logs, the run wrapper) is in
``common/``; the notifications the events service and the drift job send are in ``notify/``.
"""

__version__ = "0.1.0"
