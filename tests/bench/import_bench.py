"""Catalogue import of a large CSV, on this machine (not part of the test suite).

    .venv/bin/python tests/bench/import_bench.py [--products 10000] [--database shop_bench_import]

Makes a dedicated database on the PostgreSQL server of DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/...), migrates it and loads the demo's categories, tax
classes and zones (no products); writes a CSV of --products products with three variants each
(size S, M, L; a price, a compare-at price on one, a weight, a barcode, stock); then times
`manage.py catalog_import` checking it (a dry run), importing it, and importing it again (all
unchanged), and prints rows a second and the process's peak memory for each. The database is
dropped at the end.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from catalog.csv_format import COLUMNS  # noqa: E402


def database_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shop")
    return re.sub(r"/[^/]*$", f"/{name}", base)


def psql(url: str, sql: str) -> None:
    admin = re.sub(r"/[^/]*$", "/postgres", url)
    subprocess.run(["psql", admin, "-q", "-c", sql], check=True, capture_output=True)


def manage(*args: str, url: str) -> tuple[float, int, str]:
    """Run manage.py; return its seconds, its peak memory in MB (from /usr/bin/time) and output."""
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.test_settings")
    command = ["/usr/bin/time", "-f", "%M", sys.executable, "manage.py", *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak_kb // 1024, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def write_file(path: Path, products: int) -> int:
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for index in range(products):
            for position, size in enumerate(("S", "M", "L")):
                row = {
                    "Handle": f"bench-product-{index}",
                    "Option1 Name": "Size",
                    "Option1 Value": size,
                    "Variant SKU": f"BENCH-{index}-{size}",
                    "Variant Price": f"{20 + index % 80}.{position}9",
                    "Variant Compare At Price": f"{120 + index % 80}.00" if position == 0 else "",
                    "Variant Grams": str(300 + position * 50),
                    "Variant Barcode": f"50{index:08d}{position}",
                    "Variant Inventory Qty": str(index % 30),
                }
                if position == 0:
                    row |= {
                        "Title": f"Bench Product {index}",
                        "Body": "A product.",
                        "Category": "knitwear",
                        "Published": "TRUE",
                    }
                writer.writerow({column: row.get(column, "") for column in COLUMNS})
                rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--database", default="shop_bench_import")
    options = parser.parse_args()
    url = database_url(options.database)
    psql(url, f'DROP DATABASE IF EXISTS "{options.database}"')
    psql(url, f'CREATE DATABASE "{options.database}"')
    try:
        manage("migrate", "-v", "0", url=url)
        manage("seed_demo", "--products", "0", "-v", "0", url=url)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "catalogue.csv"
            rows = write_file(path, options.products)
            size = path.stat().st_size / 1024 / 1024
            print(f"catalogue import: {options.products:,} products, {rows:,} rows, {size:.1f} MB")
            for label, extra in [
                ("check (dry run)", []),
                ("import", ["--commit"]),
                ("again, unchanged", ["--commit"]),
            ]:
                seconds, peak, said = manage("catalog_import", str(path), "-v", "0", *extra, url=url)
                print(
                    f"  {label:18} {seconds:7.1f} s  {rows / seconds:8.0f} rows/s  peak {peak} MB  ({said})"
                )
    finally:
        psql(url, f'DROP DATABASE IF EXISTS "{options.database}"')


if __name__ == "__main__":
    main()
