import codecs
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from bargaining.roster import CSV_COLUMNS, members_csv_rows, members_import
from demands.errors import ValidationFailed


def _first_invalid_byte(file: Path) -> int:
    """The offset of the first byte that is not UTF-8, reading the file in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with file.open("rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            if not chunk:
                return offset
            offset += len(chunk)


def _rows_at_most(file: Path) -> int:
    """The data rows the file can hold, for the progress bar: its lines after the header, counted in bytes
    (a cell may hold a line break, and a blank line is no row, so the rows may be fewer)."""
    lines, last = 0, b"\n"
    with file.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return max(lines + (last != b"\n") - 1, 0)


class Command(BaseCommand):
    help = (
        f"Create or update members from a UTF-8 CSV file with the columns {','.join(CSV_COLUMNS)} "
        "(topics: category slugs or names separated by ';'; language: en or es). Emails match "
        "case-insensitively; blank cells keep what a member has; a member's subscription state is never "
        "changed. Safe to rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the CSV file")
        parser.add_argument("--dry-run", action="store_true", help="check the file and report, changing nothing")

    def handle(self, *args, file: Path, dry_run: bool, **options) -> None:
        # One streaming pass, so memory stays flat whatever the file's length; the import is one transaction,
        # so a file found not to be UTF-8 or CSV on its last line is refused with nothing written.
        try:
            total = _rows_at_most(file)
            with file.open(encoding="utf-8-sig", newline="") as handle:
                # The raw stream: OutputWrapper would end each of tqdm's redraws with a newline and colour it.
                progress = tqdm(
                    members_csv_rows(lines=handle),
                    total=total,
                    desc="Importing members",
                    unit="row",
                    file=self.stderr._out,
                    mininterval=0.5,
                )
                report = members_import(rows=progress, dry_run=dry_run)
                # The estimate counted blank lines and line breaks inside cells: end on the rows there were.
                progress.total = progress.n
                progress.close()
        except FileNotFoundError as exc:
            raise CommandError(f"No file at {file}.") from exc
        except IsADirectoryError as exc:
            raise CommandError(f"{file} is a directory, not a CSV file.") from exc
        except UnicodeDecodeError as exc:
            byte = _first_invalid_byte(file)
            raise CommandError(f"{file} is not UTF-8 text (byte {byte}); save it as CSV UTF-8.") from exc
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        except ValidationFailed as exc:
            raise CommandError(f"{file}: {' '.join(exc.errors['file'])}") from exc

        summary = f"{'Dry run, nothing changed. ' if dry_run else ''}{report}"
        self.stdout.write(self.style.WARNING(summary) if report.rejected else self.style.SUCCESS(summary))
        for rejected in report.rejected:
            self.stdout.write(f"  rejected {rejected}")
