"""The retention job: which versions are kept, the URI mapping, idempotent tagging (moto's S3 in-process)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from mlflow_platform.common.errors import BadInput
from mlflow_platform.retention.cli import main
from mlflow_platform.retention.plan import ARCHIVE_TAG_KEY, artifact_location, plan, tag_objects

DEST = "s3://bucket/mlartifacts"


class Page(list):
    token = None


class FakeClient:
    """Five versions of one model: 1 holds an alias, 5 and 4 are the newest, 3 is in Staging."""

    def __init__(self, stages=None, aliases=None):
        self.stages = {"3": "Staging"} if stages is None else stages
        self.aliases = {"champion": "1"} if aliases is None else aliases

    def search_registered_models(self, max_results, page_token):
        return Page([NS(name="iris", aliases=self.aliases)])

    def search_model_versions(self, flt, max_results, page_token):
        return Page([NS(version=str(v), current_stage=self.stages.get(str(v), "None")) for v in range(1, 7)])

    def get_model_version_download_uri(self, name, version):
        return "s3://elsewhere/x" if version == "2" else f"mlflow-artifacts:/1/models/m-{version}/artifacts"


def test_keeps_newest_alias_stage_and_served_versions():
    p = plan(FakeClient(), 2, {"iris/2"}, {}, DEST)
    kept = dict(p.keep["iris"])
    assert sorted(kept) == ["1", "2", "3", "5", "6"]
    assert kept["1"] == "alias champion" and kept["2"] == "served by an endpoint" and kept["3"] == "stage Staging"
    assert p.archive["iris"] == [("4", "s3://bucket/mlartifacts/1/models/m-4/artifacts")]


def test_exceptions_per_model():
    assert plan(FakeClient(), 2, set(), {"iris": {"skip": True}}, DEST).archive["iris"] == []
    assert [v for v, _ in plan(FakeClient(), 2, set(), {"iris": {"keepVersions": 5}}, DEST).archive["iris"]] == []


def test_versions_outside_the_bucket_are_left_alone():
    p = plan(FakeClient(aliases={}, stages={}), 1, set(), {}, DEST)
    assert [v for v, _ in p.archive["iris"]] == ["5", "4", "3", "1"]
    assert p.skipped == ["iris/2: artifacts at s3://elsewhere/x, not in the artifact bucket: left alone"]


@pytest.mark.parametrize(
    ("uri", "loc"),
    [
        ("mlflow-artifacts:/1/models/m-a/artifacts", ("bucket", "mlartifacts/1/models/m-a/artifacts")),
        ("mlflow-artifacts://mlflow.example.com/1/r/artifacts/model", ("bucket", "mlartifacts/1/r/artifacts/model")),
        ("s3://bucket/mlartifacts/2/x", ("bucket", "mlartifacts/2/x")),
        ("s3://other/x", None),
        ("file:///tmp/x", None),
    ],
)
def test_artifact_uri_mapping(uri, loc):
    assert artifact_location(uri, DEST) == loc


def test_n_below_one_is_bad_input(capsys, tmp_path, monkeypatch):
    with pytest.raises(BadInput, match="N >= 1"):
        plan(FakeClient(), 0, set(), {}, DEST)
    with pytest.raises(BadInput, match=r"exceptions\.iris\.keepVersions 0"):
        plan(FakeClient(), 2, set(), {"iris": {"keepVersions": 0}}, DEST)
    # Nothing is touched: not even MLflow's default local store (sqlite:///mlflow.db in the working directory).
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", "--keep", "0", "--artifacts-destination", DEST]) == 2
    assert "keep at least 1 version" in capsys.readouterr().err
    assert (
        main(["run", "--keep", "2", "--artifacts-destination", DEST, "--exceptions", '{"iris": {"keepVersions": 0}}'])
        == 2
    )
    assert "exceptions.iris.keepVersions 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_tagging_is_idempotent_and_keeps_other_tags(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bucket")
        for key in ("p/1/a", "p/1/b/c", "p/2/a"):
            s3.put_object(Bucket="bucket", Key=key, Body=b"x")
        s3.put_object_tagging(Bucket="bucket", Key="p/1/a", Tagging={"TagSet": [{"Key": "owner", "Value": "ml"}]})
        assert tag_objects(s3, "s3://bucket/p/1", dry_run=True) == (2, 0)
        assert s3.get_object_tagging(Bucket="bucket", Key="p/1/b/c")["TagSet"] == []
        assert tag_objects(s3, "s3://bucket/p/1", dry_run=False) == (2, 0)
        assert tag_objects(s3, "s3://bucket/p/1", dry_run=False) == (0, 2)
        tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket="bucket", Key="p/1/a")["TagSet"]}
        assert tags == {"owner": "ml", ARCHIVE_TAG_KEY: "archive"}
        assert s3.get_object_tagging(Bucket="bucket", Key="p/2/a")["TagSet"] == []
