"""Teams' trust boundaries: the identity and groups the guard vouches for come only from the proxy's headers
(never from a client-sent platform header), the groups survive the guard-to-MLflow hop exactly, and every
``platform.*`` tag key, in any case, is held to the rules."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

import mlflow_platform_access as access

from .conftest import PROPERTY, tried

GROUP = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=","), min_size=1)
GROUPS = st.lists(GROUP, max_size=6)
SPACE = st.sampled_from(["", " ", "  ", "\t"])
HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)
PLATFORM_HEADERS = st.lists(
    st.tuples(
        st.sampled_from([b"x-mlflow-platform-identity", b"X-MLflow-Platform-Identity", b"x-mlflow-platform-groups"]),
        HEADER_VALUE.map(lambda v: v.encode("latin-1")),
    ),
    max_size=4,
)


@st.composite
def group_lines(draw, groups):
    """``groups`` as a proxy or a chain of proxies may send them: split over lines, spaces around, empty items."""
    lines, current = [], []
    for g in groups:
        current.append(draw(SPACE) + g + draw(SPACE))
        if draw(st.integers(0, 3)) == 0:
            lines.append(",".join(current))
            current = []
        if draw(st.integers(0, 5)) == 0:
            current.append(draw(SPACE))
    lines.append(",".join(current))
    return lines


@PROPERTY
@given(st.data(), GROUPS)
def test_groups_are_every_line_split_and_trimmed(data, groups):
    tried("access: groups header parsing")
    lines = data.draw(group_lines(groups))
    assert access.parse_groups(lines) == tuple(sorted(set(groups)))


@PROPERTY
@given(
    email=st.one_of(st.none(), HEADER_VALUE),
    user=st.one_of(st.none(), HEADER_VALUE),
    groups=GROUPS,
    spoofed=PLATFORM_HEADERS,
    public=st.booleans(),
)
def test_the_platform_identity_is_the_proxys_or_platform_internal(email, user, groups, spoofed, public):
    tried("access: identity headers")
    headers = [(b"host", b"mlflow.example.com"), *spoofed]
    if email is not None:
        headers.append((b"x-forwarded-email", email.encode("latin-1")))
    if user is not None:
        headers.append((b"x-forwarded-user", user.encode("latin-1")))
    headers.append((b"x-forwarded-groups", ",".join(groups).encode("latin-1")))
    out, identity, got_groups = access.with_platform_identity(headers, public)
    ids = [v for k, v in out if k.lower() == b"x-mlflow-platform-identity"]
    grp = [v for k, v in out if k.lower() == b"x-mlflow-platform-groups"]
    expected = access.identity_from(email, user) if public else "platform-internal"
    assert identity == expected
    if expected is None:
        assert ids == [] and grp == []  # no identity at all: MLflow's auth app answers 401
        return
    assert ids == [expected.encode("latin-1")]
    assert len(grp) == 1
    assert got_groups == (tuple(sorted(set(groups))) if public else ())
    assert access.parse_groups([grp[0].decode("latin-1")]) == got_groups
    if public:
        assert identity == identity.strip() and (not (email or "").strip() or identity == email.strip().lower())


POLICY = access.Policy.from_dict(
    {
        "version": 1,
        "protected": {"releaseIdentities": ["release-bot@example.com"], "approvers": {"team-a": ["approvers"]}},
    }
)
SUFFIX = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", max_size=20)
#: Where a random suffix alone would almost never land: the families the rule tells apart.
FAMILY = st.sampled_from(
    ["platform.", "platform.history.", "platform.decision.", "platform.gate.", "platform.events.", "platform.approval."]
)


@st.composite
def any_case(draw, text):
    return "".join(c.upper() if draw(st.booleans()) else c for c in text)


def refusal(identity, key, value="v", groups=(), kind="version-tag"):
    write = access.RegistryWrite(kind, "POST", "m", "1", tags=((key, value),))
    return access.promotion_refusal(POLICY, identity, groups, "team-a", write, lambda n, v: {"tags": {}})


@PROPERTY
@given(st.data(), SUFFIX)
def test_every_platform_tag_is_refused_to_a_data_scientist(data, suffix):
    tried("access: platform tag rule")
    key = data.draw(any_case(data.draw(FAMILY))) + suffix
    assert access.is_platform_tag(key)
    got = refusal("alice@example.com", key)
    assert got is not None and got[0] in ("platform-tag", "four-eyes")
    assert got[1].startswith(got[0] + ":")


@PROPERTY
@given(st.text(max_size=30))
def test_other_tags_are_not_the_rules_business(key):
    tried("access: non-platform tags")
    if access.is_platform_tag(key):
        return
    assert refusal("alice@example.com", key) is None


APPEND_ONLY = ("platform.history.", "platform.decision.")


@PROPERTY
@given(st.data(), SUFFIX)
def test_the_release_identity_writes_gates_not_events_approvals_or_someone_elses_record(data, suffix):
    tried("access: release identity tags")
    key = data.draw(any_case(data.draw(FAMILY))) + suffix
    low = key.lower()
    got = refusal("Release-Bot@Example.com", key)  # a value that is no record of anyone
    if low.startswith(("platform.events.", "platform.approval.", *APPEND_ONLY)) or low in access.WRITE_ONCE_TAGS:
        assert got is not None
    else:
        assert got is None


@PROPERTY
@given(
    st.data(),
    SUFFIX,
    st.sampled_from(["alice@example.com", "anna@example.com", "release-bot@example.com"]),
    st.sampled_from(["model-tag", "version-tag"]),
)
def test_append_only_records_are_anyones_own_and_never_rewritten(data, suffix, who, kind):
    tried("access: append-only records")
    prefix = data.draw(st.sampled_from(APPEND_ONLY))
    key = data.draw(any_case(prefix)) + suffix
    author = data.draw(any_case(who))
    other = data.draw(st.sampled_from(["bob@example.com", who + ".evil", ""]))
    groups = data.draw(st.lists(st.sampled_from(["approvers", "platform-admins", "ds"]), max_size=3))

    def judge(value, tags, method="POST"):
        write = access.RegistryWrite(kind, method, "m", "1", tags=((key, value),))
        return access.promotion_refusal(POLICY, who, groups, "team-a", write, lambda n, v: {"tags": tags})

    assert judge(json.dumps({"by": author, "seq": 1}), {}) is None
    assert judge(json.dumps({"by": other}), {})[0] == "platform-tag"
    assert judge(json.dumps({"by": author}), {data.draw(any_case(key)): "{}"})[0] == "platform-tag"
    assert judge(None, {}, "DELETE")[0] == "platform-tag"
