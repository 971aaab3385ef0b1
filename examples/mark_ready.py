#!/usr/bin/env python3
"""The training pipeline's last step: tag a model version that passed the registry gates.

The tag (default `production-ready`) is what the registry events service watches (events.watchedTags):
setting it hands the version over to the model release pipeline. Its value records who and what:
{"workflow": "<namespace>/<name>", "target": "production", "by": "<token subject>"}. Run only after
`mlflow-platform registry check` passed (the pipeline orders it so).
"""
import argparse
import base64
import json
import os
import sys

from mlflow import MlflowClient


def subject() -> str:
    """The caller as the proxy sees it: the token's email, else its sub (no verification: a label only)."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN", "")
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims.get("email") or claims.get("sub") or "unknown")
    except (IndexError, ValueError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--tag", default="production-ready")
    parser.add_argument("--target", default="production")
    args = parser.parse_args()
    value = {"workflow": os.environ.get("MLFLOW_PLATFORM_WORKFLOW", ""), "target": args.target, "by": subject()}
    MlflowClient().set_model_version_tag(args.model, args.version, args.tag, json.dumps(value, sort_keys=True))
    print(f"{args.model} version {args.version}: tag {args.tag} = {json.dumps(value, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
