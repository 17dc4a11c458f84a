import threading
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bargaining import roster
from bargaining.models import Member
from bargaining.roster import Fault, members_csv_parse, members_import
from demands.errors import ValidationFailed
from tests.factories import CategoryFactory, MemberFactory

pytestmark = pytest.mark.django_db

HEADER = "email,name,school,language,frequency,topics\n"


def run_import(text: str, **kwargs) -> roster.ImportReport:
    return members_import(rows=members_csv_parse(text=text), **kwargs)


@pytest.fixture(params=["postgresql", "orm"])
def each_writer(request, monkeypatch):
    """Run the test with the PostgreSQL COPY-and-merge writer and with the ORM one (SQLite's)."""
    if request.param == "orm":
        monkeypatch.setattr(roster, "_write_postgresql", roster._write_orm)
    return request.param


@pytest.fixture
def categories():
    return {
        "trauma": CategoryFactory(name="Trauma supports", slug="trauma-supports"),
        "restorative": CategoryFactory(name="Restorative practices", slug="restorative-practices"),
    }


@pytest.mark.usefixtures("each_writer")
def test_good_rows_create_members_with_their_topics(categories):
    report = run_import(
        HEADER
        + "ana@example.org,Ana Ruiz,Juarez HS,es,daily,trauma-supports;Restorative practices\n"
        + "ben@example.org,Ben Lee,,,,\n"
    )

    assert (report.created, report.updated, report.unchanged, report.rejected) == (2, 0, 0, [])
    ana = Member.objects.get(email="ana@example.org")
    assert (ana.name, ana.school, ana.language, ana.frequency, ana.state) == (
        "Ana Ruiz",
        "Juarez HS",
        "es",
        "daily",
        "active",
    )
    assert set(ana.topics.all()) == set(categories.values())
    ben = Member.objects.get(email="ben@example.org")
    assert (ben.language, ben.frequency, ben.topics.count()) == ("en", "weekly", 0)


@pytest.mark.usefixtures("each_writer")
def test_bad_rows_are_rejected_with_row_field_value_and_reason(categories):
    report = run_import(
        HEADER
        + "good@example.org,Good,,en,weekly,\n"  # row 2
        + "not-an-email,Bad,,en,weekly,\n"  # row 3
        + ",No Email,,en,weekly,\n"  # row 4
        + "freq@example.org,Freq,,en,monthly,\n"  # row 5
        + "topic@example.org,Topic,,en,weekly,trauma-supports;Pizza\n"  # row 6
        + "GOOD@example.org,Again,,en,daily,\n"  # row 7
        + "lang@example.org,Lang,,english!,weekly,\n"  # row 8
        + "short@example.org,Short\n"  # row 9
        + "also-good@example.org,Also good,,,,\n"  # row 10
    )

    rejected = {row.row: row.faults for row in report.rejected}
    assert rejected == {
        3: (Fault("email", "not-an-email", "not a valid email address"),),
        4: (Fault("email", "", "missing"),),
        5: (Fault("frequency", "monthly", "unknown frequency (use weekly, daily, off)"),),
        6: (Fault("topics", "Pizza", "unknown topic (use category slugs or names)"),),
        7: (Fault("email", "GOOD@example.org", "duplicate in the file (first on row 2)"),),
        8: (Fault("language", "english!", "unknown language (use en, es)"),),
        9: (Fault("row", "", "has 2 cells; the header has 6"),),
    }
    assert (report.created, report.updated) == (2, 0)
    assert set(Member.objects.values_list("email", flat=True)) == {"good@example.org", "also-good@example.org"}
    assert Member.objects.get(email="good@example.org").name == "Good"


def test_a_row_reports_every_fault_it_has():
    report = run_import(HEADER + "nope,,,xx yy,hourly,Nothing\n")

    assert [fault.field for fault in report.rejected[0].faults] == ["email", "language", "frequency", "topics"]
    assert str(report.rejected[0]).startswith("row 2: email “nope”: not a valid email address; language")


@pytest.mark.usefixtures("each_writer")
def test_cells_the_database_would_refuse_are_rejected_without_stopping_the_batch():
    report = run_import(
        HEADER
        + f"long@example.org,{'x' * 201},,,,\n"
        + "nul@example.org,,Lincoln\x00Park,,,\n"
        + f"{'a' * 250}@example.org,,,,,\n"
        + "fine@example.org,Fine,,,,\n"
    )

    faults = {row.row: row.faults[0] for row in report.rejected}
    assert faults[2].field == "name"
    assert faults[2].reason == "Ensure this value has at most 200 characters (it has 201)."
    assert faults[3] == Fault("school", "Lincoln\N{SYMBOL FOR NULL}Park", "Null characters are not allowed.")
    assert (faults[4].field, faults[4].reason) == ("email", "not a valid email address")
    assert list(Member.objects.values_list("email", flat=True)) == ["fine@example.org"]


def test_a_row_with_too_many_cells_is_rejected():
    report = run_import(HEADER + "x@example.org,X,,en,weekly,,surplus\n")

    assert report.rejected[0].faults == (Fault("row", "", "has 7 cells; the header has 6"),)
    assert not Member.objects.exists()


@pytest.mark.usefixtures("each_writer")
def test_matching_is_case_insensitive_and_updates_instead_of_duplicating(categories):
    member = MemberFactory(email="Ana.Ruiz@Example.org", name="Ana", frequency="weekly")

    report = run_import(HEADER + "ana.ruiz@EXAMPLE.ORG,Ana Ruiz,Juarez HS,,daily,trauma-supports\n")

    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    assert Member.objects.count() == 1
    member.refresh_from_db()
    assert (member.email, member.name, member.school, member.frequency) == (
        "Ana.Ruiz@Example.org",
        "Ana Ruiz",
        "Juarez HS",
        "daily",
    )
    assert list(member.topics.all()) == [categories["trauma"]]


@pytest.mark.usefixtures("each_writer")
def test_blank_cells_keep_what_a_member_has(categories):
    member = MemberFactory(email="ana@example.org", name="Ana", school="Juarez HS", language="es", frequency="daily")
    member.topics.set([categories["restorative"]])

    report = run_import(HEADER + "ana@example.org,,,,,\n")

    assert (report.updated, report.unchanged) == (0, 1)
    member.refresh_from_db()
    assert (member.name, member.school, member.language, member.frequency) == ("Ana", "Juarez HS", "es", "daily")
    assert list(member.topics.all()) == [categories["restorative"]]


@pytest.mark.usefixtures("each_writer")
def test_import_never_resubscribes_a_member_who_unsubscribed():
    member = MemberFactory(email="gone@example.org", state=Member.State.UNSUBSCRIBED)

    run_import(HEADER + "gone@example.org,Gone,,en,daily,\n")

    member.refresh_from_db()
    assert (member.state, member.frequency) == ("unsubscribed", "daily")


@pytest.mark.usefixtures("each_writer")
def test_rerunning_the_same_file_changes_nothing(categories):
    text = HEADER + "".join(
        f"m{i}@example.org,Member {i},School {i % 3},en,daily,trauma-supports;restorative-practices\n"
        for i in range(30)
    )
    first = run_import(text)
    stamps = dict(Member.objects.values_list("email", "updated_at"))

    again = run_import(text)

    assert (first.created, first.updated) == (30, 0)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 30, [])
    assert Member.objects.count() == 30
    assert dict(Member.objects.values_list("email", "updated_at")) == stamps
    assert Member.topics.through.objects.count() == 60


@pytest.mark.usefixtures("each_writer")
def test_topic_change_alone_counts_as_an_update(categories):
    member = MemberFactory(email="ana@example.org")
    member.topics.set([categories["trauma"]])

    report = run_import(HEADER + "ana@example.org,,,,,Restorative practices\n")

    assert report.updated == 1
    assert list(member.topics.all()) == [categories["restorative"]]


@pytest.mark.usefixtures("each_writer")
def test_dry_run_reports_counts_and_changes_nothing():
    MemberFactory(email="old@example.org", name="Old")

    report = run_import(HEADER + "old@example.org,Renamed,,,,\nnew@example.org,New,,,,\nbad,,,,,\n", dry_run=True)

    assert (report.created, report.updated, len(report.rejected)) == (1, 1, 1)
    assert list(Member.objects.values_list("email", "name")) == [("old@example.org", "Old")]


def test_an_error_while_writing_stops_the_reading_thread_and_writes_nothing(monkeypatch):
    monkeypatch.setattr(roster, "IMPORT_BATCH_SIZE", 10)
    real_write = roster._write_postgresql
    batches = []

    def write_then_fail(rows):
        batches.append(real_write(rows))
        if len(batches) == 2:
            raise RuntimeError("the database went away")
        return batches[-1]

    monkeypatch.setattr(roster, "_write_postgresql", write_then_fail)
    text = HEADER + "".join(f"m{i}@example.org,,,,,\n" for i in range(100))

    with pytest.raises(RuntimeError, match="went away") as caught:
        run_import(text)

    assert len(batches) == 2
    # Stopped at once, not when the traceback (still held here, with the import's frame) is collected.
    assert caught.value.__traceback__ is not None
    assert not [thread for thread in threading.enumerate() if thread.name == "roster-reader"]
    assert not Member.objects.exists()


def _add_from_another_connection(email: str) -> None:
    def add() -> None:
        try:
            MemberFactory(email=email, name="Added meanwhile")
        finally:
            connection.close()  # this thread's own connection, committed already (autocommit)

    thread = threading.Thread(target=add)
    thread.start()
    thread.join()


@pytest.mark.django_db(transaction=True)
def test_import_matches_again_when_someone_adds_the_same_address_meanwhile(monkeypatch):
    real_match = roster._match_existing
    calls = []

    def match_racing_with_an_admin(cursor, **kwargs):
        real_match(cursor, **kwargs)
        if not calls:
            # An admin adds the address after the lookup, before the new members are inserted.
            _add_from_another_connection("race@example.org")
        calls.append(kwargs)

    monkeypatch.setattr(roster, "_match_existing", match_racing_with_an_admin)

    report = run_import(HEADER + "RACE@example.org,From the file,,,,\nother@example.org,Other,,,,\n")

    assert len(calls) == 2, "the batch is written again, and matches the member added meanwhile"
    assert (report.created, report.updated) == (1, 1)
    assert Member.objects.get(email="race@example.org").name == "From the file"
    assert Member.objects.filter(email="other@example.org").exists()
    assert Member.objects.count() == 2


def test_orm_writer_retries_a_batch_once_when_someone_adds_the_same_address_meanwhile(monkeypatch):
    monkeypatch.setattr(roster, "_write_postgresql", roster._write_orm)
    real_lookup = roster._existing_members
    calls = []

    def lookup_racing_with_an_admin(emails):
        if not calls:
            MemberFactory(email="race@example.org", name="Added meanwhile")
            calls.append(emails)
            return {}
        return real_lookup(emails)

    monkeypatch.setattr(roster, "_existing_members", lookup_racing_with_an_admin)

    report = run_import(HEADER + "RACE@example.org,From the file,,,,\nother@example.org,Other,,,,\n")

    assert (report.created, report.updated) == (1, 1)
    assert Member.objects.get(email="race@example.org").name == "From the file"
    assert Member.objects.filter(email="other@example.org").exists()


def _queries_to_import(count: int, offset: int) -> int:
    text = HEADER + "".join(f"q{offset + i}@example.org,Member {i},,en,weekly,trauma-supports\n" for i in range(count))
    rows = members_csv_parse(text=text)
    with CaptureQueriesContext(connection) as queries:
        members_import(rows=rows)
    return len(queries)


def test_queries_do_not_grow_with_the_number_of_rows(categories):
    few_new = _queries_to_import(10, offset=0)
    many_new = _queries_to_import(200, offset=1000)
    assert many_new == few_new

    # The same rows again: every member exists, with a change to write.
    Member.objects.update(name="Renamed")
    few_existing = _queries_to_import(10, offset=0)
    many_existing = _queries_to_import(200, offset=1000)
    assert many_existing == few_existing
    assert Member.objects.filter(name="Renamed").count() == 0


def test_rows_are_written_in_batches(categories, monkeypatch):
    monkeypatch.setattr(roster, "IMPORT_BATCH_SIZE", 50)
    one_batch = _queries_to_import(50, offset=0)
    two_batches = _queries_to_import(100, offset=1000)
    three_batches = _queries_to_import(150, offset=2000)
    # Each batch costs the same fixed number of queries; the rest (the topic lookup, the one transaction) is
    # per import.
    assert three_batches - two_batches == two_batches - one_batch > 0
    assert Member.objects.count() == 300


def test_rows_are_read_batch_by_batch_from_a_stream(monkeypatch):
    monkeypatch.setattr(roster, "IMPORT_BATCH_SIZE", 10)
    real_write = roster._write_postgresql
    written = [0]
    written_when_read: list[int] = []

    def write(rows):
        counts = real_write(rows)
        written[0] += len(rows)
        return counts

    monkeypatch.setattr(roster, "_write_postgresql", write)

    def stream():
        for number in range(2, 42):
            written_when_read.append(written[0])
            yield (
                number,
                {
                    "email": f"s{number}@example.org",
                    "name": "",
                    "school": "",
                    "language": "",
                    "frequency": "",
                    "topics": "",
                },
            )

    report = members_import(rows=stream())

    assert report.created == 40
    assert Member.objects.count() == 40
    # The next batch is read while one is written, never more: row 22 is read only once the first ten are
    # written, row 32 once twenty are. Nothing holds the whole file.
    assert written_when_read[0] == 0
    assert written_when_read[20] >= 10
    assert written_when_read[30] >= 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty."),
        ("email,name\nx@example.org,X\n", "missing school, language, frequency, topics"),
        ("email,name,school,language,frequency,topics,notes\n", "unknown 'notes'"),
        ("email,email,name,school,language,frequency,topics\n", "repeated email"),
    ],
)
def test_a_wrong_header_is_refused_before_any_row(text, message):
    with pytest.raises(ValidationFailed) as caught:
        members_csv_parse(text=text)
    assert message in caught.value.errors["file"][0]


def test_header_may_differ_in_case_order_and_carry_a_byte_order_mark():
    rows = members_csv_parse(text="\ufeffTopics, Email ,name,school,language,frequency\n,a@example.org,A,,,\n")
    report = members_import(rows=rows)
    assert report.created == 1
    assert Member.objects.get().name == "A"


def test_row_numbers_match_the_spreadsheet_with_blank_lines_and_multiline_cells():
    rows = members_csv_parse(text=HEADER + '\na@example.org,"Ana\nRuiz",,,,\nbad,,,,,\n')
    report = members_import(rows=rows)
    assert [row.row for row in report.rejected] == [4]


# --- The command ---


def write_csv(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "members.csv"
    path.write_text(text, encoding=encoding)
    return path


def call(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_members", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_prints_a_summary_and_each_rejected_row(tmp_path, categories):
    MemberFactory(email="old@example.org", name="Old")
    path = write_csv(
        tmp_path,
        HEADER + "new@example.org,New,,,,\nOLD@example.org,Renamed,,,,\nbad-email,,,,,\nx@example.org,,,,never,\n",
    )

    out, err = call(str(path))

    assert "4 rows: 1 created, 1 updated, 0 unchanged, 2 rejected." in out
    assert "rejected row 4: email “bad-email”: not a valid email address" in out
    assert "rejected row 5: frequency “never”: unknown frequency (use weekly, daily, off)" in out
    assert "Importing members" in err
    assert "4/4" in err
    assert Member.objects.count() == 2


def test_command_takes_en_and_es_in_any_case_or_region_and_refuses_every_other_language(tmp_path):
    MemberFactory(email="kept@example.org", language="es")
    rows = {
        2: ("en", "en"),
        3: ("es", "es"),
        4: (" ES ", "es"),
        5: ("En", "en"),
        6: ("es-MX", "es"),
        7: ("es_us", "es"),
        8: ("", "en"),  # blank: a new member gets the default
        9: ("fr", None),
        10: ("zh-hant", None),
        11: ("english", None),
        12: ("es-", None),
    }
    text = HEADER + "".join(f"m{row}@example.org,,,{cell},,\n" for row, (cell, _) in rows.items())
    path = write_csv(tmp_path, text + "kept@example.org,,,,,\n")  # row 13: blank keeps a member's language

    out, _ = call(str(path))

    assert "12 rows: 7 created, 0 updated, 1 unchanged, 4 rejected." in out
    for row, (cell, stored) in rows.items():
        if stored is None:
            assert f"rejected row {row}: language “{cell}”: unknown language (use en, es)" in out
            assert not Member.objects.filter(email=f"m{row}@example.org").exists()
        else:
            assert Member.objects.get(email=f"m{row}@example.org").language == stored
    assert Member.objects.get(email="kept@example.org").language == "es"


def test_command_dry_run_changes_nothing(tmp_path):
    path = write_csv(tmp_path, HEADER + "new@example.org,New,,,,\n")

    out, _ = call(str(path), "--dry-run")

    assert "Dry run, nothing changed. 1 row: 1 would be created" in out
    assert not Member.objects.exists()


def test_command_refuses_a_missing_file_with_a_plain_message(tmp_path):
    with pytest.raises(CommandError, match=r"No file at .*missing\.csv"):
        call(str(tmp_path / "missing.csv"))


def test_command_refuses_a_wrong_header(tmp_path):
    path = write_csv(tmp_path, "mail,full name\nx@example.org,X\n")
    with pytest.raises(CommandError, match="The header row must be email,name,school,language,frequency,topics"):
        call(str(path))
    assert not Member.objects.exists()


def test_command_refuses_a_file_that_is_not_utf8(tmp_path):
    path = write_csv(tmp_path, HEADER + "zoë@example.org,Zoë,,,,\n", encoding="latin-1")
    with pytest.raises(CommandError, match="is not UTF-8 text"):
        call(str(path))


def test_command_names_the_first_byte_that_is_not_utf8_and_writes_nothing(tmp_path):
    good = HEADER + "".join(f"m{i}@example.org,M,,,,\n" for i in range(5000))
    path = tmp_path / "members.csv"
    path.write_bytes(good.encode() + b"zo\xeb@example.org,Zoe,,,,\n")
    with pytest.raises(CommandError, match=rf"is not UTF-8 text \(byte {len(good.encode()) + 2}\)"):
        call(str(path))
    assert not Member.objects.exists()


def test_command_refuses_a_row_that_is_not_csv_late_in_the_file_before_writing_any(tmp_path):
    rows = "".join(f"m{i}@example.org,M,,,,\n" for i in range(5000))
    path = write_csv(tmp_path, HEADER + rows + "x@example.org," + "x" * 200_000 + ",,,,\n")
    with pytest.raises(CommandError, match="is not valid CSV"):
        call(str(path))
    assert not Member.objects.exists()


def test_command_from_the_shell_prints_no_traceback_for_a_missing_file(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "import_members", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 1
    assert "CommandError: No file at" in result.stderr
    assert "Traceback" not in result.stderr
