"""The member roster as CSV: one set of columns for import and export.

Columns: `email,name,school,language,frequency,topics`; topics are category slugs or names
separated by `;`, and none means every category.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Mapping

from django.db.models import QuerySet

from demands.errors import ValidationFailed

from .models import Member

CSV_COLUMNS = ("email", "name", "school", "language", "frequency", "topics")
TOPIC_SEPARATOR = ";"

# A data row: its row number as a spreadsheet shows it (the header is row 1), and its cells by
# column. A row with too many cells carries the extras under the key None; too few, None values.
RowCells = Mapping[str | None, str | list[str] | None]
NumberedRow = tuple[int, RowCells]


def members_csv_parse(*, text: str) -> list[NumberedRow]:
    """The rows of a roster CSV; refuses a file whose header is not exactly the roster's columns."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
        if not header:
            raise ValidationFailed({"file": ["The file is empty."]})
        _check_header(header)
        rows: list[NumberedRow] = []
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            row: dict[str | None, str | list[str] | None] = dict(zip(header, cells, strict=False))
            if len(cells) > len(header):
                row[None] = cells[len(header) :]
            for column in header[len(cells) :]:
                row[column] = None
            rows.append((number, row))
    except csv.Error as exc:
        raise ValidationFailed({"file": [f"Line {reader.line_num} is not valid CSV: {exc}."]}) from exc
    return rows


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
    """The roster as CSV text, line by line (header first), for streaming a large export."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for member in members.order_by("email").prefetch_related("topics").iterator(chunk_size=2000):
        topics = TOPIC_SEPARATOR.join(topic.slug for topic in member.topics.all())
        yield line([member.email, member.name, member.school, member.language, member.frequency, topics])
