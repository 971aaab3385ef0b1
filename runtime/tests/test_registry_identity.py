import pytest

from mlflow_platform.common.errors import BadInput
from mlflow_platform.registry.identity import identity_from_token

from .conftest import jwt


def test_email_claim_is_the_identity():
    me = identity_from_token(jwt({"email": "jane@example.com", "sub": "u1", "iss": "i", "groups": ["a", "b"]}))
    assert (me.name, me.subject, me.groups) == ("jane@example.com", "u1", ("a", "b"))


def test_sub_when_there_is_no_email():
    assert identity_from_token(jwt({"sub": "ci-pipeline"})).name == "ci-pipeline"


def test_a_single_group_string_is_a_group():
    assert identity_from_token(jwt({"sub": "x", "roles": "admins"}), groups_claim="roles").groups == ("admins",)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "is not set"),
        ("not-a-jwt", "not a JWT"),
        ("a.!!!.c", "not base64url JSON"),
        (jwt({"iss": "x"}), "neither an email nor a sub"),
    ],
)
def test_unusable_tokens_are_bad_input(token, message, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    with pytest.raises(BadInput, match=message):
        identity_from_token()
