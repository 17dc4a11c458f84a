"""Exports that cannot attack: no roster cell reaches a spreadsheet as a formula, and re-importing the
export leaves every member as it was."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bargaining.models import Member
from demands.spreadsheets import csv_cell, csv_cell_read
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:bargaining_member_changelist")
IMPORT = reverse("admin:bargaining_member_import")
FORMULAS = {
    "-ana@example.org": ('=HYPERLINK("http://evil.example","Ana")', "+Juarez HS"),
    "ben@example.org": ("-2+3", "@SUM(A1:A9)"),
    "cy@example.org": ("'=already quoted", "'plain quote"),
    "dee@example.org": ("Dee = friend", "Lincoln - Park"),
}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("'quote", "''quote"),
        ("a=1", "a=1"),
        ("", ""),
        ("Ana", "Ana"),
    ],
)
def test_cells_starting_like_a_formula_are_escaped_and_read_back(value, written):
    assert csv_cell(value) == written
    assert csv_cell_read(written) == value


def test_a_lone_apostrophe_and_hand_typed_apostrophes_read_as_they_are():
    assert csv_cell_read("'") == "'"
    assert csv_cell_read("'Ana") == "'Ana"


def test_roster_with_formula_cells_is_escaped_in_the_file_and_unchanged_after_reimport(client, admin_user):
    for email, (name, school) in FORMULAS.items():
        MemberFactory(email=email, name=name, school=school)
    before = set(Member.objects.values_list("email", "name", "school", "language", "frequency"))
    client.force_login(admin_user)
    ids = list(Member.objects.values_list("pk", flat=True))
    exported = b"".join(
        client.post(CHANGELIST, {"action": "export_csv", "_selected_action": ids, "index": 0}).streaming_content
    )

    rows = list(csv.reader(io.StringIO(exported.decode())))[1:]
    cells = {row[0]: (row[1], row[2]) for row in rows}
    assert cells["'-ana@example.org"] == ('\'=HYPERLINK("http://evil.example","Ana")', "'+Juarez HS")
    assert cells["ben@example.org"] == ("'-2+3", "'@SUM(A1:A9)")
    assert cells["cy@example.org"] == ("''=already quoted", "''plain quote")
    assert cells["dee@example.org"] == ("Dee = friend", "Lincoln - Park")
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]

    response = client.post(IMPORT, {"file": SimpleUploadedFile("members.csv", exported)})
    report = response.context["report"]
    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, len(FORMULAS), [])
    assert set(Member.objects.values_list("email", "name", "school", "language", "frequency")) == before
