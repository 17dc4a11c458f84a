# ruff: noqa: S608  (the merge SQL interpolates only table names and constants; values are parameters)
"""The member roster as CSV: one set of columns for import and export, and the bulk import.

Columns: `email,name,school,language,frequency,topics`; topics are category slugs or names
separated by `;`, and none means every category.
"""

import copy
import csv
import datetime
import functools
import io
import operator
import queue
import re
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar, cast

from django.core.exceptions import ValidationError
from django.core.validators import EMPTY_VALUES, EmailValidator, MaxLengthValidator
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from demands.errors import ValidationFailed
from demands.models import Category
from demands.spreadsheets import ESCAPE, csv_cell, csv_cell_read

from .models import NUL_CHARACTERS, Member, language_key

CSV_COLUMNS = ("email", "name", "school", "language", "frequency", "topics")
_CELLS = operator.itemgetter(*CSV_COLUMNS)
TOPIC_SEPARATOR = ";"

# A data row: its row number as a spreadsheet shows it (the header is row 1), and its cells by
# column. A row with too many cells carries the extras under the key None; too few, None values.
_T = TypeVar("_T")
RowCells = Mapping[str | None, str | list[str] | None]
NumberedRow = tuple[int, RowCells]
IMPORT_BATCH_SIZE = 2000
# Read once: the enum's `values` builds a new list on every access, which showed at 100,000 rows.
_FREQUENCIES = frozenset(Member.Frequency.values)
# The field's choices (the site's languages), in their order for the message that lists them.
_LANGUAGES = tuple(code for code, _ in cast(Field, Member._meta.get_field("language")).choices or ())
VALIDATED_COLUMNS = ("email", "name", "school")
# Results of a column's validators remembered per value: a roster repeats its schools.
VALIDATION_MEMO = 4096


def _precompiled(validator: Callable[[Any], None]) -> Callable[[Any], None]:
    """The same validator, cheaper to call 100,000 times: its lazily compiled patterns compiled once (the same
    pattern and flags), and an email validator's domain check remembered per domain (a roster has few)."""
    fast = copy.copy(validator)
    for name in ("regex", "user_regex", "domain_regex", "literal_regex"):
        pattern = getattr(validator, name, None)
        if pattern is not None and not isinstance(pattern, str):
            setattr(fast, name, re.compile(pattern.pattern, pattern.flags))
    if isinstance(fast, EmailValidator):
        fast.validate_domain_part = functools.lru_cache(maxsize=VALIDATION_MEMO)(  # type: ignore[method-assign]
            fast.validate_domain_part
        )
    return fast


# The model fields' own validators (the one place the rules live), taken once rather than looked up per row.
_VALIDATORS = {
    column: tuple(_precompiled(validator) for validator in cast(Field, Member._meta.get_field(column)).validators)
    for column in VALIDATED_COLUMNS
}

# A plain address: an ASCII dot-atom local part (EmailValidator's, without its case-folding of non-ASCII letters)
# at ASCII labels of 1 to 63 characters, no dash at either end, under an alphabetic top-level label. Every such
# address passes EmailValidator; anything else (quoted local parts, IDN, literals, a trailing dot...) is not
# decided here but by the validator itself.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
_EMAIL_MAX_LENGTH = 320  # EmailValidator's own limit (RFC 3696)


def _never(value: str) -> bool:
    return False


def _shortcut(validators: Iterable[Callable[[Any], None]]) -> Callable[[str], bool]:
    """A check that says True only of a value every one of `validators` accepts, in a step or two instead of a
    call into each: a length limit is a comparison, Django's default email rules `_PLAIN_EMAIL`. It never
    refuses: a value it does not vouch for goes to the validators, which decide and word the report. A
    validator it does not know (or a customised one) gets no shortcut, so every value goes to the validators."""
    limit: float = float("inf")
    email = False
    for validator in validators:
        if type(validator) is MaxLengthValidator and isinstance(validator.limit_value, int):
            limit = min(limit, validator.limit_value)
        elif type(validator) is EmailValidator and validator == EmailValidator():
            email, limit = True, min(limit, _EMAIL_MAX_LENGTH)
        else:
            return _never
    if email:
        plain = _PLAIN_EMAIL.fullmatch
        return lambda value: len(value) <= limit and plain(value) is not None
    return lambda value: len(value) <= limit


_SHORTCUTS = {column: _shortcut(validators) for column, validators in _VALIDATORS.items()}


@functools.lru_cache(maxsize=VALIDATION_MEMO)
def _problems(column: str, value: str) -> tuple[str, ...]:
    """What the model field `column` says is wrong with `value`, as `Field.run_validators` would (its messages,
    with the field's own error messages in place of the validators'); nothing when it is valid."""
    if value in EMPTY_VALUES:
        return ()
    messages = cast(Field, Member._meta.get_field(column)).error_messages
    problems: list[str] = []
    for validator in _VALIDATORS[column]:
        try:
            validator(value)
        except ValidationError as exc:
            for error in exc.error_list:
                code = getattr(error, "code", None)
                if code in messages:
                    error.message = messages[code]
            problems.extend(exc.messages)
    return tuple(problems)


def _faults_of(column: str, value: str) -> tuple[str, ...]:
    """`_problems`, at once for a value the column's shortcut vouches for (most rows of most rosters)."""
    return () if _SHORTCUTS[column](value) else _problems(column, value)


def members_csv_rows(*, lines: Iterable[str]) -> Iterator[NumberedRow]:
    """The rows of a roster CSV, one at a time (constant memory); refuses a header that is not the roster's.

    `lines` is text, e.g. a file opened with `newline=""`; the header is checked before the first row.
    """
    reader = csv.reader(lines)
    try:
        first = next(reader, [])
        if first:
            first[0] = first[0].removeprefix("\ufeff")
        header = [cell.strip().lower() for cell in first]
        if not header:
            raise ValidationFailed({"file": ["The file is empty."]})
        _check_header(header)
        for number, cells in enumerate(reader, start=2):
            joined = "".join(cells)
            if not joined.strip():
                continue  # a blank line, or one of empty cells
            if ESCAPE in joined:
                cells = [csv_cell_read(cell) for cell in cells]
            row: dict[str | None, str | list[str] | None] = dict(zip(header, cells, strict=False))
            if len(cells) > len(header):
                row[None] = cells[len(header) :]
            for column in header[len(cells) :]:
                row[column] = None
            yield number, row
    except csv.Error as exc:
        raise ValidationFailed({"file": [f"Line {reader.line_num} is not valid CSV: {exc}."]}) from exc


def members_csv_parse(*, text: str) -> list[NumberedRow]:
    """The rows of a roster CSV held in memory (an upload); see `members_csv_rows`."""
    return list(members_csv_rows(lines=io.StringIO(text)))


def _check_header(header: list[str]) -> None:
    expected = ",".join(CSV_COLUMNS)
    missing = [column for column in CSV_COLUMNS if column not in header]
    unknown = [column for column in header if column not in CSV_COLUMNS]
    repeated = sorted({column for column in header if header.count(column) > 1})
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown {', '.join(repr(column) for column in unknown)}")
    if repeated:
        problems.append(f"repeated {', '.join(repeated)}")
    if problems:
        raise ValidationFailed(
            {"file": [f"The header row must be {expected} (found {','.join(header)}: {'; '.join(problems)})."]}
        )


def members_csv_lines(members: QuerySet[Member]) -> Iterator[str]:
    """The roster as CSV text, line by line (header first), for streaming a large export; no cell is a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_cell(cell) for cell in cells])
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for member in members.order_by("email").prefetch_related("topics").iterator(chunk_size=2000):
        topics = TOPIC_SEPARATOR.join(topic.slug for topic in member.topics.all())
        yield line([member.email, member.name, member.school, member.language, member.frequency, topics])


@dataclass(frozen=True)
class Fault:
    """One cell the import refused: its column, its value and what is wrong with it."""

    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field} “{self.value}”: {self.reason}" if self.value else f"{self.field}: {self.reason}"


@dataclass(frozen=True)
class RejectedRow:
    """A row the import left out, with every fault found in it."""

    row: int
    faults: tuple[Fault, ...]

    def __str__(self) -> str:
        return f"row {self.row}: " + "; ".join(map(str, self.faults))


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.rejected)

    def __str__(self) -> str:
        verb = "would be " if self.dry_run else ""
        rows = "1 row" if self.total == 1 else f"{self.total} rows"
        return (
            f"{rows}: {self.created} {verb}created, {self.updated} {verb}updated, "
            f"{self.unchanged} unchanged, {len(self.rejected)} rejected."
        )


@dataclass
class _Row:
    """A valid row: `values` holds only the non-blank cells (blank keeps what a member has)."""

    number: int
    email: str
    values: dict[str, str]
    topic_ids: frozenset[int] | None


def _topic_keys() -> dict[str, int]:
    keys: dict[str, int] = {}
    for pk, slug, name in Category.objects.values_list("pk", "slug", "name"):
        keys[slug.lower()] = pk
        keys.setdefault(name.lower(), pk)
    return keys


def _parse(number: int, raw: RowCells, topic_keys: dict[str, int], seen: dict[str, int]) -> _Row | RejectedRow:
    if None in raw or None in raw.values():
        extra = raw.get(None) or []
        count = len(CSV_COLUMNS) + len(extra) - sum(1 for value in raw.values() if value is None)
        fault = Fault("row", "", f"has {count} cells; the header has {len(CSV_COLUMNS)}")
        return RejectedRow(number, (fault,))
    cells = [cell.strip() for cell in cast(tuple[str, ...], _CELLS(raw))]
    if "\x00" in "".join(cells):
        nul_faults = [
            Fault(column, value.replace("\x00", "\N{SYMBOL FOR NULL}"), NUL_CHARACTERS)
            for column, value in zip(CSV_COLUMNS, cells, strict=True)
            if "\x00" in value
        ]
        return RejectedRow(number, tuple(nul_faults))
    email, name, school, language, frequency, topics = cells
    faults: list[Fault] = []

    if not email:
        faults.append(Fault("email", "", "missing"))
    elif _faults_of("email", email):
        faults.append(Fault("email", email, "not a valid email address"))
    else:
        first = seen.setdefault(email.lower(), number)
        if first != number:
            faults.append(Fault("email", email, f"duplicate in the file (first on row {first})"))

    values: dict[str, str] = {}
    for column, cell in (("name", name), ("school", school)):
        problems = _faults_of(column, cell)
        if problems:
            faults.append(Fault(column, cell, " ".join(problems)))
        elif cell:
            values[column] = cell

    if language:
        code = language if language in _LANGUAGES else language_key(language)
        if code in _LANGUAGES:
            values["language"] = code
        else:
            faults.append(Fault("language", language, f"unknown language (use {', '.join(_LANGUAGES)})"))

    if frequency:
        if frequency.lower() in _FREQUENCIES:
            values["frequency"] = frequency.lower()
        else:
            choices = ", ".join(Member.Frequency.values)
            faults.append(Fault("frequency", frequency, f"unknown frequency (use {choices})"))

    topic_ids = None
    topic_names = [topic.strip() for topic in topics.split(TOPIC_SEPARATOR) if topic.strip()] if topics else []
    if topic_names:
        unknown = [topic for topic in topic_names if topic.lower() not in topic_keys]
        if unknown:
            faults.append(Fault("topics", "; ".join(unknown), "unknown topic (use category slugs or names)"))
        else:
            topic_ids = frozenset(topic_keys[topic.lower()] for topic in topic_names)

    if faults:
        return RejectedRow(number, tuple(faults))
    return _Row(number, email, values, topic_ids)


def _batches(rows: Iterable[NumberedRow], size: int) -> Iterator[list[NumberedRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _valid_batches(
    rows: Iterable[NumberedRow], topic_keys: dict[str, int], report: ImportReport
) -> Iterator[list[_Row]]:
    """The valid rows, batch by batch; each rejected row is added to `report`. No query."""
    seen: dict[str, int] = {}
    for batch in _batches(rows, IMPORT_BATCH_SIZE):
        valid: list[_Row] = []
        for number, raw in batch:
            parsed = _parse(number, raw, topic_keys, seen)
            if isinstance(parsed, RejectedRow):
                report.rejected.append(parsed)
            else:
                valid.append(parsed)
        if valid:
            yield valid


_END = object()


def _one_ahead(items: Iterator[_T]) -> Generator[_T, None, None]:
    """The same items, the next one made in a thread while the caller works on this one.

    Reading and validating a batch is Python; merging one is PostgreSQL, which the caller waits for with the
    GIL released: one ahead, they run side by side on two cores, and memory holds two batches at most. An
    exception raised making an item is raised here, in its place.
    """
    handoff: queue.SimpleQueue[Any] = queue.SimpleQueue()
    wanted = threading.Semaphore(0)  # one permit per item the maker may make
    stopped = threading.Event()

    def permitted() -> bool:
        while not stopped.is_set():
            if wanted.acquire(timeout=0.1):
                return True
        return False

    def make() -> None:
        try:
            while permitted():
                item = next(items, _END)
                handoff.put(item)
                if item is _END:
                    return
        except BaseException as exc:  # raised again in the caller's thread
            handoff.put(exc)

    maker = threading.Thread(target=make, name="roster-reader", daemon=True)
    maker.start()
    wanted.release()
    try:
        while (item := handoff.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            wanted.release()  # the next one, made while the caller works on this one
            yield item
    finally:
        stopped.set()
        maker.join()


def _existing_members(emails: list[str]) -> dict[str, Member]:
    keys = [email.lower() for email in emails]
    members = Member.objects.alias(email_lower=Lower("email")).filter(email_lower__in=keys)
    return {member.email.lower(): member for member in members}


def _write_orm(rows: list[_Row]) -> tuple[int, int, int]:
    """Create or update one batch with the ORM (databases other than PostgreSQL, e.g. SQLite locally).

    A fixed number of queries per batch; returns (created, updated, unchanged).
    """
    Topic = Member.topics.through
    existing = _existing_members([row.email for row in rows])
    current_topics: dict[int, set[int]] = {member.pk: set() for member in existing.values()}
    for member_id, category_id in Topic.objects.filter(member_id__in=current_topics).values_list(
        "member_id", "category_id"
    ):
        current_topics[member_id].add(category_id)

    now = timezone.now()
    to_create: list[tuple[Member, frozenset[int] | None]] = []
    to_update: list[Member] = []
    topics_to_set: dict[int, frozenset[int]] = {}
    unchanged = 0
    for row in rows:
        member = existing.get(row.email.lower())
        if member is None:
            to_create.append((Member(email=row.email, **row.values), row.topic_ids))
            continue
        changed = {name: value for name, value in row.values.items() if getattr(member, name) != value}
        if row.topic_ids is not None and row.topic_ids != current_topics[member.pk]:
            topics_to_set[member.pk] = row.topic_ids
        topics_changed = member.pk in topics_to_set
        if changed:
            for name, value in changed.items():
                setattr(member, name, value)
            member.updated_at = now
            to_update.append(member)
        elif topics_changed:
            member.updated_at = now
            to_update.append(member)
        else:
            unchanged += 1

    with transaction.atomic():
        created = Member.objects.bulk_create([member for member, _ in to_create])
        for member, topic_ids in zip(created, (topic_ids for _, topic_ids in to_create), strict=True):
            if topic_ids:
                topics_to_set[member.pk] = topic_ids
        if to_update:
            Member.objects.bulk_update(to_update, ["name", "school", "language", "frequency", "updated_at"])
        if topics_to_set:
            Topic.objects.filter(member_id__in=topics_to_set).delete()
            Topic.objects.bulk_create(
                Topic(member_id=member_id, category_id=category_id)
                for member_id, topic_ids in topics_to_set.items()
                for category_id in topic_ids
            )
    return len(created), len(to_update), unchanged


# The staging table of one batch (per connection, emptied for each batch). `email_key` is what the
# unique Lower(email) index compares; `member_id` is the existing member a row matched, and `changed` and
# `topics_changed` say what the row changes on them.
_STAGING = "roster_staging"
_CREATE_STAGING = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} (
    email text NOT NULL, email_key text NOT NULL, name text, school text, language text, frequency text,
    topic_ids bigint[], member_id bigint, changed boolean NOT NULL DEFAULT false,
    topics_changed boolean NOT NULL DEFAULT false
);
TRUNCATE {_STAGING};
"""
_STAGED_COLUMNS = ("email", "email_key", "name", "school", "language", "frequency", "topic_ids")
_COLUMNS = ("name", "school", "language", "frequency")


def _match_existing(cursor: CursorWrapper, *, now: datetime.datetime) -> None:
    """Find the existing members of the staged rows, and write what changes for them."""
    member, topics = Member._meta.db_table, Member.topics.through._meta.db_table
    differs = " OR ".join(f"(s.{column} IS NOT NULL AND s.{column} <> m.{column})" for column in _COLUMNS)
    # One probe of the unique Lower(email) index per staged row: the LIMIT keeps the planner from joining the
    # whole roster instead (it reads every member into a hash for a batch of 2,000, 20 to 40 times slower at
    # 100,000 members; bench/README.md).
    found = ", ".join(f"m.{column}" for column in ("id", *_COLUMNS))
    cursor.execute(
        f"""UPDATE {_STAGING} s SET member_id = m.id, changed = ({differs}),
            topics_changed = s.topic_ids IS NOT NULL AND s.topic_ids <> ARRAY(
                SELECT t.category_id FROM {topics} t WHERE t.member_id = m.id ORDER BY t.category_id)
        FROM (
            SELECT k.email_key, {found} FROM {_STAGING} k
            CROSS JOIN LATERAL (SELECT * FROM {member} WHERE lower(email) = k.email_key LIMIT 1) m
        ) m WHERE m.email_key = s.email_key"""
    )
    assignments = ", ".join(f"{column} = coalesce(s.{column}, m.{column})" for column in _COLUMNS)
    # `= ANY(ARRAY(...))` for the same reason: the members and topics to change are looked up by their
    # indexes, where a join would read the whole table into a hash.
    cursor.execute(
        f"""UPDATE {member} m SET {assignments}, updated_at = %s FROM {_STAGING} s
        WHERE m.id = ANY(ARRAY(SELECT member_id FROM {_STAGING} WHERE changed OR topics_changed))
            AND s.member_id = m.id""",
        [now],
    )
    cursor.execute(
        f"""DELETE FROM {topics} WHERE member_id = ANY(ARRAY(SELECT member_id FROM {_STAGING} WHERE topics_changed))"""
    )
    cursor.execute(
        f"""INSERT INTO {topics} (member_id, category_id) SELECT member_id, unnest(topic_ids)
        FROM {_STAGING} WHERE topics_changed"""
    )


def _insert_new(cursor: CursorWrapper, *, now: datetime.datetime) -> None:
    """Create the members of the staged rows left unmatched, with their topics, in one statement.

    A plain INSERT, not ON CONFLICT DO NOTHING (a quarter slower at 10,000 rows: each row is inserted
    speculatively): an address someone added since the match breaks the unique Lower(email) index, the
    IntegrityError rolls the batch back, and `members_import` writes it again, matching that member.
    """
    member, topics = Member._meta.db_table, Member.topics.through._meta.db_table
    defaults = [Member._meta.get_field(column).get_default() for column in _COLUMNS]  # type: ignore[union-attr]
    values = ", ".join(f"coalesce({column}, %s)" for column in _COLUMNS)
    cursor.execute(
        f"""WITH inserted AS (
            INSERT INTO {member} (email, {", ".join(_COLUMNS)}, state, created_at, updated_at)
            SELECT email, {values}, %s, %s, %s FROM {_STAGING} WHERE member_id IS NULL
            RETURNING id, lower(email) AS email_key
        )
        INSERT INTO {topics} (member_id, category_id)
        SELECT i.id, unnest(s.topic_ids) FROM inserted i JOIN {_STAGING} s ON s.email_key = i.email_key
        WHERE s.topic_ids IS NOT NULL""",
        [*defaults, Member.State.ACTIVE, now, now],
    )


def _write_postgresql(rows: list[_Row]) -> tuple[int, int, int]:
    """Copy one batch into the staging table and merge it: a fixed number of statements whatever its size."""
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CREATE_STAGING)
        arrays: dict[frozenset[int], str] = {}  # a roster repeats its few topic sets
        with cursor.cursor.copy(f"COPY {_STAGING} ({', '.join(_STAGED_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                topic_ids = row.topic_ids
                if topic_ids is not None and topic_ids not in arrays:
                    arrays[topic_ids] = "{" + ",".join(map(str, sorted(topic_ids))) + "}"
                array = None if topic_ids is None else arrays[topic_ids]
                copy.write_row((row.email, row.email.lower(), *map(row.values.get, _COLUMNS), array))
        _match_existing(cursor, now=now)
        _insert_new(cursor, now=now)
        cursor.execute(
            f"""SELECT count(*) FILTER (WHERE member_id IS NULL),
                count(*) FILTER (WHERE member_id IS NOT NULL AND (changed OR topics_changed)),
                count(*) FILTER (WHERE member_id IS NOT NULL AND NOT changed AND NOT topics_changed)
            FROM {_STAGING}"""
        )
        created, updated, unchanged = cursor.fetchone()
    return created, updated, unchanged


def members_import(*, rows: Iterable[NumberedRow], dry_run: bool = False) -> ImportReport:
    """Create or update members from roster rows, matching emails case-insensitively.

    A bad row is reported and skipped; it never stops the good ones. Blank cells keep what an
    existing member has (a new member gets the defaults), and the import never changes a
    member's state: someone who unsubscribed stays unsubscribed. `rows` may be a stream (see
    `members_csv_rows`): it is read batch by batch, so memory does not grow with the file. Each
    batch takes a fixed number of queries; on PostgreSQL it is copied into a staging table and
    merged there in a few statements. The whole import is one transaction: an error raised while
    reading the stream (a file that turns out not to be UTF-8 or CSV halfway) leaves the roster as
    it was. `dry_run` reports the same counts and changes nothing.
    """
    report = ImportReport(dry_run=dry_run)
    topic_keys = _topic_keys()
    write = _write_postgresql if connection.vendor == "postgresql" else _write_orm
    with transaction.atomic():
        # The next batch is read and validated in a thread while this one is written (no query there: the
        # topics were looked up above, in this thread and transaction).
        # Closed on the way out, error or not, which stops the reading thread at once.
        with closing(_one_ahead(_valid_batches(rows, topic_keys, report))) as batches:
            for valid in batches:
                try:
                    created, updated, unchanged = write(valid)
                except IntegrityError:
                    # Someone added one of these addresses since the lookup: look again, once.
                    created, updated, unchanged = write(valid)
                report.created += created
                report.updated += updated
                report.unchanged += unchanged
        if dry_run:
            transaction.set_rollback(True)
    return report
