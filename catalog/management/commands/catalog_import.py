"""Import a catalogue CSV (see catalog/csv_format.py): first what it would do, then, with
--commit, for real; a progress bar on the terminal, and each refused row with its reason."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.csv_format import decode, read
from catalog.importer import CHANGE, CREATE, REFUSE, SAME, catalogue_import

MAX_BYTES = 200 * 1024 * 1024


class Command(BaseCommand):
    help = "Import products and variants from a CSV: a dry run unless --commit is given."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--commit", action="store_true", help="Write the products (else only say what would be done)."
        )

    def handle(self, *args, file: Path, commit: bool, verbosity: int, **options) -> None:
        if not file.is_file():
            raise CommandError(f"No file at {file}.")
        if file.stat().st_size > MAX_BYTES:
            raise CommandError("A catalogue file can be at most 200 MB.")
        try:
            text = decode(file.read_bytes())
        except UnicodeDecodeError as error:
            raise CommandError(
                "The file is neither UTF-8 nor Windows-1252 text: save it as CSV UTF-8."
            ) from error
        products, problems = read(text)
        if problems:
            raise CommandError(" ".join(f"Row {line}: {why}" for line, why in problems))
        with tqdm(
            total=len(products),
            unit="product",
            desc="Importing" if commit else "Checking",
            disable=verbosity == 0 or None,
        ) as bar:
            report = catalogue_import(
                products, dry_run=not commit, progress=lambda done, total: bar.update(1)
            )
        for outcome in report.outcomes:
            for reason in outcome.reasons:
                self.stdout.write(f"refused {outcome.handle or '(no handle)'}: {reason}")
        verb = "Imported" if commit else "Would import"
        counts = [report.count(action) for action in (CREATE, CHANGE, SAME, REFUSE)]
        self.stdout.write(
            f"{verb}: {counts[0]} new, {counts[1]} changed, {counts[2]} unchanged, {counts[3]} refused."
        )
