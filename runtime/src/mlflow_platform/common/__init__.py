"""What every ``mlflow-platform`` sub-command shares: the exit codes and the exceptions that carry them
(:mod:`.errors`), JSON logs (:mod:`.logs`) and the wrapper every entry module runs its command in
(:mod:`.command`)."""
