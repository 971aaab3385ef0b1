"""The model retention job: ``mlflow-platform retention run [--dry-run]``.

Keeps the N newest versions of each registered model plus every version that holds an alias, the
Staging or Production stage, or is served by an endpoint; marks the artifacts of the others for
archival (an S3 object tag, a Cloud Storage customTime or an Azure blob index tag) that a lifecycle rule of
the artifact store acts on. See :mod:`.plan`, :mod:`.stores`, :mod:`.cli` and docs/model-registry.md.
"""
