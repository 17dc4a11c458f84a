"""The import validates each row with the model fields' own validators, precompiled once: it must refuse and
accept exactly what `Field.run_validators` does, with the same messages, at the edges of every rule."""

import pytest
from django.core.exceptions import ValidationError

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
    "language": ["en", "es", "zh-hant", "EN", "e", "english", "pt-br", "es_MX", "x-"],
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
