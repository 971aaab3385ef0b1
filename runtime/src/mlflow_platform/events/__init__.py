"""The registry events service (``mlflow-platform events serve``).

Receives MLflow's registry webhooks (signed, replay-protected, de-duplicated) and reconciles by reading
the registry on a schedule, so that every registry event (including the ones MLflow fires no webhook
for, such as stage transitions, and the ones whose delivery was lost) is notified exactly once to Slack,
Discord, e-mail and GitHub (``repository_dispatch``). See docs/registry-events.md.
"""
