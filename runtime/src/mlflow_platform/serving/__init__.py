"""The model server: MLflow's pyfunc loader behind a minimal ASGI app run by uvicorn.

``mlflow-platform serve`` starts it; ``mlflow-platform serve build-context`` writes an image's build
context from ``models:/<name>/<version>``. See docs/model-serving.md.
"""
