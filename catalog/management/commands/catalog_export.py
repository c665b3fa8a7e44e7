"""Write the catalogue as the CSV catalog_import reads (catalog/csv_format.py), to a file or out."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from catalog.csv_format import write
from catalog.importer import catalogue_rows


class Command(BaseCommand):
    help = "Export products and variants as CSV (the format catalog_import reads)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, nargs="?", help="Blank: standard output.")

    def handle(self, *args, file: Path | None, **options) -> None:
        if file is None:
            write(catalogue_rows(), self.stdout)
            return
        with file.open("w", encoding="utf-8", newline="") as out:
            write(catalogue_rows(), out)
