from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from bargaining.roster import CSV_COLUMNS, members_csv_parse, members_import
from demands.errors import ValidationFailed


class Command(BaseCommand):
    help = (
        f"Create or update members from a UTF-8 CSV file with the columns {','.join(CSV_COLUMNS)} "
        "(topics: category slugs or names separated by ';'). Emails match case-insensitively; blank cells "
        "keep what a member has; a member's subscription state is never changed. Safe to rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the CSV file")
        parser.add_argument("--dry-run", action="store_true", help="check the file and report, changing nothing")

    def handle(self, *args, file: Path, dry_run: bool, **options) -> None:
        try:
            text = file.read_text(encoding="utf-8-sig")
        except FileNotFoundError as exc:
            raise CommandError(f"No file at {file}.") from exc
        except IsADirectoryError as exc:
            raise CommandError(f"{file} is a directory, not a CSV file.") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8.") from exc
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        try:
            rows = members_csv_parse(text=text)
        except ValidationFailed as exc:
            raise CommandError(f"{file}: {' '.join(exc.errors['file'])}") from exc

        # The raw stream: OutputWrapper would end each of tqdm's redraws with a newline and colour it.
        progress = tqdm(rows, desc="Importing members", unit="row", file=self.stderr._out, mininterval=0.5)
        report = members_import(rows=progress, dry_run=dry_run)
        progress.close()

        summary = f"{'Dry run, nothing changed. ' if dry_run else ''}{report}"
        self.stdout.write(self.style.WARNING(summary) if report.rejected else self.style.SUCCESS(summary))
        for rejected in report.rejected:
            self.stdout.write(f"  rejected {rejected}")
