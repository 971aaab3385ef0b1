"""``mlflow-platform drift``: the scheduled drift job. See :mod:`.cli` (the job) and :mod:`.report` (the comparison)."""
