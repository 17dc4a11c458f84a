"""The import validates each row with the model fields' own validators, precompiled once: it must refuse and
accept exactly what `Field.run_validators` does, with the same messages, at the edges of every rule."""

import random

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, MaxLengthValidator, RegexValidator

from bargaining import roster
from bargaining.models import Member
from bargaining.roster import members_csv_parse, members_import

pytestmark = pytest.mark.django_db

NAME_LIMIT = Member._meta.get_field("name").max_length

SAMPLES = {
    "email": [
        "a@example.org",
        "A.B+c@sub.example.co.uk",
        "no-at-sign",
        "two@@example.org",
        "x@-bad-.example",
        "x@example",
        "x@[127.0.0.1]",
        "x@[999.1.1.1]",
        "user@" + "d" * 64 + ".org",
        "u" * 65 + "@example.org",
        "x@exämple.org",
        "x@example.org.",
    ],
    "name": ["", "Ana", "n" * NAME_LIMIT, "n" * (NAME_LIMIT + 1)],
    "school": ["", "School 1", "s" * 200, "s" * 201],
}


def field_says(column: str, value: str) -> tuple[str, ...]:
    try:
        Member._meta.get_field(column).run_validators(value)
    except ValidationError as exc:
        return tuple(exc.messages)
    return ()


@pytest.mark.parametrize(
    ("column", "value"), [(column, value) for column, values in SAMPLES.items() for value in values]
)
def test_the_precompiled_rules_say_what_the_model_field_says(column, value):
    assert roster._problems(column, value) == field_says(column, value)
    assert roster._problems(column, value) == field_says(column, value), "remembered, the same answer"


def test_a_name_at_the_limit_passes_and_one_more_character_is_refused_with_the_fields_message():
    text = f"email,name,school,language,frequency,topics\na@example.org,{'n' * NAME_LIMIT},,,,\n"
    text += f"b@example.org,{'n' * (NAME_LIMIT + 1)},,,,\n"
    report = members_import(rows=members_csv_parse(text=text))
    assert report.created == 1
    (rejected,) = report.rejected
    assert rejected.row == 3
    assert rejected.faults[0].field == "name"
    assert rejected.faults[0].reason == field_says("name", "n" * (NAME_LIMIT + 1))[0]


def test_a_bad_domain_seen_before_is_still_refused_on_every_row():
    rows = "".join(f"user{i}@-bad-.example,,,,,\n" for i in range(3))
    report = members_import(rows=members_csv_parse(text="email,name,school,language,frequency,topics\n" + rows))
    assert report.created == 0
    assert [row.faults[0].reason for row in report.rejected] == ["not a valid email address"] * 3


# The shortcut only ever vouches: whatever it accepts the validators accept, and the answer the import acts on
# (`_faults_of`) is the validators' own for every value, shortcut or not.
EMAIL_LIMIT = Member._meta.get_field("email").max_length
ODD_EMAILS = [
    "A@EXAMPLE.ORG",
    "Ana.Ruiz+union@Mail.Example.Org",
    '"quoted local"@example.org',
    '"a\\"b"@example.org',
    "x@exämple.org",
    "x@xn--exmple-cua.org",
    "ana@例え.jp",
    "ſ@example.org",  # a long s: EmailValidator's case-insensitive [A-Z] takes it
    "\u212a@example.org",  # a Kelvin sign, likewise
    "x@example.org.",
    "x.@example.org",
    ".x@example.org",
    "x..y@example.org",
    " a@example.org",
    "a@example.org ",
    "=cmd@example.org",
    "=cmd|' /C calc'!A0",
    "+1@example.org",
    "-x@example.org",
    "@example.org",
    "x@",
    "x@localhost",
    "x@[127.0.0.1]",
    "x@[::1]",
    "x@-bad.example",
    "x@bad-.example",
    "x@example.c",
    "x@example.123",
    "x@ex_ample.org",
    "x@example.o-rg",
    "x@" + "d" * 63 + ".org",
    "x@" + "d" * 64 + ".org",
    "x@example." + "o" * 63,
    "x@example." + "o" * 64,
    "a" * (EMAIL_LIMIT - len("@example.org")) + "@example.org",  # the longest the field takes
    "a" * (EMAIL_LIMIT + 1 - len("@example.org")) + "@example.org",  # one more
    "a@b@example.org",
    "a@example.org\n",
]


@pytest.mark.parametrize("value", SAMPLES["email"] + ODD_EMAILS)
def test_the_email_shortcut_vouches_only_for_what_the_validators_accept(value):
    if roster._SHORTCUTS["email"](value):
        assert field_says("email", value) == ()
    assert roster._faults_of("email", value) == field_says("email", value)


def test_the_email_shortcut_takes_plain_addresses_at_the_edges_of_the_length_limit():
    longest = "a" * (EMAIL_LIMIT - len("@example.org")) + "@example.org"
    assert roster._SHORTCUTS["email"](longest) and field_says("email", longest) == ()
    assert not roster._SHORTCUTS["email"]("a" + longest)
    assert roster._faults_of("email", "a" + longest) == field_says("email", "a" + longest) != ()


@pytest.mark.parametrize("column", ["name", "school"])
def test_the_length_shortcut_agrees_at_the_limit_and_one_past_it(column):
    limit = Member._meta.get_field(column).max_length
    for value in ("", "x", "x" * limit, "x" * (limit + 1), "é" * limit, " " * (limit + 1)):
        assert roster._SHORTCUTS[column](value) == (field_says(column, value) == ())
        assert roster._faults_of(column, value) == field_says(column, value)


def test_a_validator_the_shortcut_does_not_know_sends_every_value_to_the_validators():
    assert not roster._shortcut([RegexValidator(r"^x\Z")])("x")
    assert not roster._shortcut([EmailValidator(allowlist=["intranet"])])("a@example.org")
    assert not roster._shortcut([EmailValidator(), RegexValidator(r"^a")])("a@example.org")
    assert roster._shortcut([EmailValidator(), MaxLengthValidator(20)])("a@example.org")
    assert not roster._shortcut([EmailValidator(), MaxLengthValidator(12)])("a@example.org")


def test_random_addresses_the_shortcut_takes_pass_the_validators():
    # Addresses assembled from the characters the rules turn on (dots, dashes, quotes, non-ASCII letters,
    # brackets, spaces), many near misses of a plain address; a fixed seed so a failure replays.
    plain = ["a"] * 24 + ["Z", "0", "-", "_", "+", "=", "'"]
    pieces = [*plain, ".", '"', "é", "ſ", "例", "[", "]", " ", "xn--"]
    tlds = ["org", "ORG", "co", "o", "xn--p1ai", "é", "1a", "or-g", "org.", "-org", "c" * 64]
    chance = random.Random(13)
    taken = refused = 0
    for _ in range(20_000):
        local = "".join(chance.choice(pieces) for _ in range(chance.randint(1, 6)))
        labels = [
            "".join(chance.choice(pieces) for _ in range(chance.randint(1, 3))) for _ in range(chance.randint(1, 3))
        ]
        value = f"{local}@{'.'.join(labels)}.{chance.choice(tlds)}"
        if roster._SHORTCUTS["email"](value):
            taken += 1
            assert field_says("email", value) == (), value
        elif field_says("email", value):
            refused += 1
    assert taken > 500 and refused > 500  # the sample reached both sides, not only one
