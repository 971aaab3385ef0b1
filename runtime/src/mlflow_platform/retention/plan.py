"""Which model versions keep their artifacts hot, and the S3 object tags that archive the others.

Artifact locations: the tracking server serves artifacts by proxy (``--artifacts-destination
s3://<bucket>/<prefix>``, ``gs://<bucket>/<prefix>`` or ``wasbs://<container>@<account>.blob.core.windows.net/<prefix>``),
so a version's download URI is ``mlflow-artifacts:/<path>`` (or ``mlflow-artifacts://<host>/<path>``), which the
server stores at ``<destination>/<path>``. The job is given the same destination the server is, and maps one to
the other; a location of the destination's scheme in the same bucket (container) is used as is; anything else is
reported and left alone. How each store marks an object for archival: :mod:`.stores`.

Idempotent: an object that already carries the tag is not written again, so a second run changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

from mlflow_platform.common.errors import BadInput
from mlflow_platform.common.paging import all_pages

ARCHIVE_TAG_KEY = "mlflow-platform-retention"
ARCHIVE_TAG_VALUE = "archive"
KEPT_STAGES = ("Staging", "Production")


@dataclass
class Plan:
    keep: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # model -> [(version, why)]
    archive: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # model -> [(version, location)]
    skipped: list[str] = field(default_factory=list)


#: The artifact stores the job can mark, by the scheme of the tracking server's destination.
SCHEMES = ("s3", "gs", "wasbs")


def destination_scheme(destination: str) -> str:
    """The scheme of ``--artifacts-destination`` (:class:`BadInput` for any other than :data:`SCHEMES`)."""
    dest = urlparse(destination)
    netloc_ok = bool(dest.netloc) and (dest.scheme != "wasbs" or "@" in dest.netloc)
    if dest.scheme not in SCHEMES or not netloc_ok:
        raise BadInput(
            f"--artifacts-destination {destination!r}: expected s3://<bucket>/<prefix>, gs://<bucket>/<prefix> or "
            "wasbs://<container>@<account>.blob.core.windows.net/<prefix> (the tracking server's)"
        )
    return dest.scheme


def artifact_location(uri: str, destination: str) -> tuple[str, str] | None:
    """(bucket, key prefix) of an artifact URI, given the server's artifacts destination.

    The bucket is the destination's network location: ``<bucket>`` for s3:// and gs://,
    ``<container>@<account>.blob.core.windows.net`` for wasbs://.
    """
    scheme = destination_scheme(destination)
    dest = urlparse(destination)
    dest_prefix = dest.path.strip("/")
    u = urlparse(uri)
    if u.scheme == "mlflow-artifacts":
        path = u.path.strip("/")
        return dest.netloc, f"{dest_prefix}/{path}".strip("/")
    if u.scheme == scheme and u.netloc == dest.netloc:
        return u.netloc, u.path.strip("/")
    return None


def validate(keep_versions: int, exceptions: dict) -> None:
    """:class:`BadInput` for a count below 1; called before anything talks to MLflow (nothing changes)."""
    if keep_versions < 1:
        raise BadInput(f"--keep {keep_versions}: keep at least 1 version per model (N >= 1)")
    for name, exc in exceptions.items():
        n = exc.get("keepVersions", keep_versions) if isinstance(exc, dict) else None
        if not isinstance(n, int) or n < 1:
            raise BadInput(f"exceptions.{name}.keepVersions {n}: keep at least 1 version (N >= 1)")


def plan(client, keep_versions: int, served: set[str], exceptions: dict, destination: str) -> Plan:
    validate(keep_versions, exceptions)
    scheme = destination_scheme(destination)
    p = Plan()
    kept_locations: set[tuple[str, str]] = set()
    candidates: list[tuple[str, str, tuple[str, str]]] = []
    for model in all_pages(client.search_registered_models):
        name = model.name
        exc = exceptions.get(name, {})
        n = int(exc.get("keepVersions", keep_versions))
        aliases = model.aliases or {}
        alias_of: dict[str, list[str]] = {}
        for a, v in aliases.items() if isinstance(aliases, dict) else ((x.alias, x.version) for x in aliases):
            alias_of.setdefault(str(v), []).append(a)
        versions = sorted(
            all_pages(client.search_model_versions, f"name='{name}'"), key=lambda v: int(v.version), reverse=True
        )
        newest = {str(v.version) for v in versions[:n]}
        p.keep[name], p.archive[name] = [], []
        for v in versions:
            ver = str(v.version)
            why = []
            if exc.get("skip"):
                why.append("model excepted from retention")
            if ver in newest:
                why.append(f"one of the {n} newest")
            if ver in alias_of:
                why.append(f"alias {', '.join(sorted(alias_of[ver]))}")
            if v.current_stage in KEPT_STAGES:
                why.append(f"stage {v.current_stage}")
            if f"{name}/{ver}" in served:
                why.append("served by an endpoint")
            uri = client.get_model_version_download_uri(name, ver)
            loc = artifact_location(uri, destination)
            if why:
                p.keep[name].append((ver, "; ".join(why)))
                if loc:
                    kept_locations.add(loc)
            elif loc is None:
                p.skipped.append(f"{name}/{ver}: artifacts at {uri}, not in the artifact bucket: left alone")
            else:
                candidates.append((name, ver, loc))
    for name, ver, loc in candidates:
        # A location a kept version shares (the same logged model registered twice) stays hot.
        if any(
            loc[0] == k[0] and (loc[1] == k[1] or loc[1].startswith(k[1] + "/") or k[1].startswith(loc[1] + "/"))
            for k in kept_locations
        ):
            p.skipped.append(f"{name}/{ver}: shares {scheme}://{loc[0]}/{loc[1]} with a kept version: left alone")
            continue
        p.archive[name].append((ver, f"{scheme}://{loc[0]}/{loc[1]}"))
    return p


def tag_objects(s3, location: str, dry_run: bool) -> tuple[int, int]:
    """Tags every object under ``location``; returns (newly tagged, already tagged)."""
    u = urlparse(location)
    bucket, prefix = u.netloc, u.path.strip("/") + "/"
    tagged = already = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            tags = s3.get_object_tagging(Bucket=bucket, Key=obj["Key"])["TagSet"]
            if any(t["Key"] == ARCHIVE_TAG_KEY and t["Value"] == ARCHIVE_TAG_VALUE for t in tags):
                already += 1
                continue
            tagged += 1
            if not dry_run:
                # PutObjectTagging replaces the set: keep the object's other tags.
                keep = [t for t in tags if t["Key"] != ARCHIVE_TAG_KEY]
                s3.put_object_tagging(
                    Bucket=bucket,
                    Key=obj["Key"],
                    Tagging={"TagSet": [*keep, {"Key": ARCHIVE_TAG_KEY, "Value": ARCHIVE_TAG_VALUE}]},
                )
    return tagged, already
