"""The four-eyes comparison: case and Unicode variants of one address are one person; the same verified
(issuer, subject) is one person; different subjects with different addresses are different people."""

from __future__ import annotations

import unicodedata

from hypothesis import assume, given
from hypothesis import strategies as st

from mlflow_platform.registry.identity import Person, normalize_email, same_person

from .conftest import PROPERTY, tried

LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-+", min_size=1, max_size=20)
DOMAIN = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10), min_size=2, max_size=3
).map(".".join)
EMAILS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)
SUBJECTS = st.text(min_size=1, max_size=30)
ISSUERS = st.sampled_from(
    ["https://idp.example.com", "https://accounts.example.org/", "https://oidc.eks.example/id/ABC"]
)
FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}  # NFKC folds these back to ASCII


@st.composite
def variants(draw, address):
    """The same address as someone might write it: each character in either case, some full-width,
    spaces around."""
    out = []
    for c in address:
        c = c.upper() if draw(st.booleans()) else c
        if draw(st.integers(0, 4)) == 0 and c in FULLWIDTH:
            c = FULLWIDTH[c]
        out.append(c)
    return draw(st.sampled_from(["", " ", "\t"])) + "".join(out) + draw(st.sampled_from(["", " "]))


@PROPERTY
@given(st.data(), EMAILS, SUBJECTS, SUBJECTS, ISSUERS)
def test_variants_of_one_address_are_one_person(data, address, sub1, sub2, iss):
    variant = data.draw(variants(address))
    assert normalize_email(variant) == normalize_email(address)
    assert same_person(
        Person(email=normalize_email(address), issuer=iss, subject=sub1),
        Person.from_record({"by": variant, "email": variant, "sub": sub2, "iss": iss}),
    )
    # A record that predates subjects (only a name) too.
    assert same_person(Person(legacy=variant), Person(email=normalize_email(address), issuer=iss, subject=sub1))
    tried("Four eyes: case/Unicode variants of one address are the same person")


@PROPERTY
@given(EMAILS, EMAILS, SUBJECTS, ISSUERS)
def test_one_verified_subject_is_one_person_whatever_the_address(a, b, sub, iss):
    assert same_person(
        Person(email=normalize_email(a), issuer=iss, subject=sub),
        Person(email=normalize_email(b), issuer=iss, subject=sub),
    )
    tried("Four eyes: the same (issuer, subject) is the same person")


@PROPERTY
@given(EMAILS, EMAILS, SUBJECTS, SUBJECTS, ISSUERS, ISSUERS)
def test_different_subjects_and_addresses_are_different_people(a, b, sub1, sub2, iss1, iss2):
    assume(normalize_email(a) != normalize_email(b))
    assume((iss1, sub1) != (iss2, sub2))
    x = Person(email=normalize_email(a), issuer=iss1, subject=sub1)
    y = Person(email=normalize_email(b), issuer=iss2, subject=sub2)
    assert not same_person(x, y) and not same_person(y, x)
    tried("Four eyes: different subjects with different addresses are different people")


@PROPERTY
@given(st.text(max_size=40))
def test_normalization_is_idempotent(value):
    once = normalize_email(value)
    assert normalize_email(once) == once and unicodedata.is_normalized("NFKC", once)
    tried("Four eyes: normalizing twice changes nothing")


@PROPERTY
@given(SUBJECTS, ISSUERS)
def test_subjects_differing_only_in_case_are_two_accounts(sub, iss):
    """OpenID Connect subjects are case-sensitive identifiers."""
    assume(sub.swapcase() != sub)
    assert not same_person(Person(issuer=iss, subject=sub), Person(issuer=iss, subject=sub.swapcase()))
    tried("Four eyes: subjects that differ only in case are different accounts")
