"""``mlflow-platform drift``: the scheduled drift job (issue 14). See job.py."""
