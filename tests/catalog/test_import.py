"""The catalogue CSV: exported and imported back exactly; a dry run says what a file would do,
row by row; run for real it writes each product whole or not at all, and twice changes nothing."""

import csv
import io

import pytest
from django.core.management import call_command

from catalog.csv_format import COLUMNS, decode, read
from catalog.importer import CHANGE, CREATE, REFUSE, SAME, catalogue_import, catalogue_rows
from catalog.models import Product, Variant
from inventory.models import Stock
from tests.factories import CategoryFactory, ProductFactory, StockFactory, VariantFactory

pytestmark = pytest.mark.django_db


def csv_text(*rows: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({column: row.get(column, "") for column in COLUMNS} for row in rows)
    return out.getvalue()


@pytest.fixture
def shop():
    knitwear = CategoryFactory(name="Knitwear", slug="knitwear")
    jumper = ProductFactory(title="Jumper", slug="jumper", category=knitwear, description="Warm.")
    for size, stock in [("S", 3), ("M", 5)]:
        StockFactory(
            variant=VariantFactory(product=jumper, sku=f"J-{size}", options={"size": size}, price=6500),
            on_hand=stock,
        )
    scarf = ProductFactory(title="Scarf", slug="scarf", category=knitwear)
    StockFactory(variant=VariantFactory(product=scarf, sku="SCARF", price=2500), on_hand=1)
    call_command("seed_demo", products=0, verbosity=0)  # tax classes and the rest, no products
    return jumper


def run(text: str, *, dry_run: bool):
    products, problems = read(text)
    assert problems == []
    return catalogue_import(products, dry_run=dry_run)


def test_the_export_reads_back_as_unchanged(shop):
    text = io.StringIO()
    call_command("catalog_export", stdout=text)
    rows = list(csv.DictReader(io.StringIO(text.getvalue())))
    assert [
        (row["Handle"], row["Variant SKU"], row["Variant Price"], row["Variant Inventory Qty"])
        for row in rows
    ] == [
        ("jumper", "J-S", "65.00", "3"),
        ("jumper", "J-M", "65.00", "5"),
        ("scarf", "SCARF", "25.00", "1"),
    ]
    assert rows[0]["Title"] == "Jumper" and rows[1]["Title"] == ""  # the product's columns on its first row
    report = run(text.getvalue(), dry_run=True)
    assert [(outcome.handle, outcome.action) for outcome in report.outcomes] == [
        ("jumper", SAME),
        ("scarf", SAME),
    ]


GOOD = [
    {
        "Handle": "jumper",
        "Variant SKU": "J-S",
        "Variant Price": "£59.99",
        "Option1 Name": "Size",
        "Option1 Value": "S",
        "Variant Inventory Qty": "3",
    },
    {
        "Handle": "jumper",
        "Variant SKU": "J-M",
        "Variant Price": "65.00",
        "Option1 Name": "Size",
        "Option1 Value": "M",
        "Variant Inventory Qty": "9",
    },
    {
        "Handle": "camp-mug",
        "Title": "Camp Mug",
        "Category": "knitwear",
        "Variant SKU": "MUG",
        "Variant Price": "12.50",
        "Variant Grams": "350",
        "Variant Inventory Qty": "20",
        "Published": "TRUE",
    },
]
BAD = [
    ({"Handle": "", "Variant SKU": "X1", "Variant Price": "1.00"}, "Handle is missing."),
    (
        {"Handle": "no-title", "Category": "knitwear", "Variant SKU": "X2", "Variant Price": "1.00"},
        "Title is missing for a new product.",
    ),
    (
        {
            "Handle": "odd-price",
            "Title": "Odd",
            "Category": "knitwear",
            "Variant SKU": "X3",
            "Variant Price": "ten",
        },
        "Variant Price “ten” is not an amount of money (e.g. 24.99).",
    ),
    (
        {
            "Handle": "neg-stock",
            "Title": "Neg",
            "Category": "knitwear",
            "Variant SKU": "X4",
            "Variant Price": "1.00",
            "Variant Inventory Qty": "-2",
        },
        "Variant Inventory Qty cannot be negative.",
    ),
    (
        {
            "Handle": "where",
            "Title": "Where",
            "Category": "Nowhere",
            "Variant SKU": "X5",
            "Variant Price": "1.00",
        },
        "no category “Nowhere”",
    ),
    (
        {
            "Handle": "kind",
            "Title": "Kind",
            "Category": "knitwear",
            "Type": "Spaceship",
            "Variant SKU": "X6",
            "Variant Price": "1.00",
        },
        "no product type “Spaceship”",
    ),
    (
        {
            "Handle": "taken",
            "Title": "Taken",
            "Category": "knitwear",
            "Variant SKU": "SCARF",
            "Variant Price": "1.00",
        },
        "SKU SCARF belongs to the shop's product scarf.",
    ),
    (
        {
            "Handle": "twice",
            "Title": "Twice",
            "Category": "knitwear",
            "Variant SKU": "MUG",
            "Variant Price": "1.00",
        },
        "SKU MUG is listed for camp-mug too.",
    ),
    (
        {
            "Handle": "pub",
            "Title": "Pub",
            "Category": "knitwear",
            "Variant SKU": "X7",
            "Variant Price": "1.00",
            "Published": "maybe",
        },
        "Published must be TRUE or FALSE.",
    ),
]


def test_a_dry_run_says_what_each_product_would_do_and_writes_nothing(shop):
    text = csv_text(*GOOD, *(row for row, _why in BAD))
    before = (
        list(Product.objects.values_list("slug", "title")),
        list(Variant.objects.values_list("sku", "price")),
    )

    report = run(text, dry_run=True)

    actions = {outcome.handle: outcome.action for outcome in report.outcomes}
    assert actions["jumper"] == CHANGE and actions["camp-mug"] == CREATE
    refused = {
        outcome.handle: " ".join(outcome.reasons) for outcome in report.outcomes if outcome.action == REFUSE
    }
    assert len(refused) == len(BAD)
    for row, why in BAD:
        assert (
            why
            in refused[row["Handle"] and __import__("django.utils.text").utils.text.slugify(row["Handle"])]
        ), why
    assert "Row 5:" in refused[""]  # the row number in the file, the header being row 1
    assert (
        list(Product.objects.values_list("slug", "title")),
        list(Variant.objects.values_list("sku", "price")),
    ) == before


def test_for_real_each_product_is_written_whole_and_twice_changes_nothing(shop):
    text = csv_text(*GOOD, BAD[2][0])

    report = run(text, dry_run=False)

    assert [report.count(action) for action in (CREATE, CHANGE, SAME, REFUSE)] == [1, 1, 0, 1]
    assert Variant.objects.get(sku="J-S").price == 5999
    assert Stock.objects.get(variant__sku="J-M").on_hand == 9  # through the audited adjustment
    mug = Product.objects.get(slug="camp-mug")
    assert (mug.title, mug.is_active, mug.price_from) == ("Camp Mug", True, 1250)
    assert (
        Variant.objects.get(sku="MUG").weight_grams == 350
        and Stock.objects.get(variant__sku="MUG").on_hand == 20
    )
    assert not Product.objects.filter(slug="odd-price").exists()  # refused: nothing of it written
    again = run(text, dry_run=False)
    assert [again.count(action) for action in (CREATE, CHANGE, SAME, REFUSE)] == [0, 0, 2, 1]


def test_stock_below_what_orders_hold_refuses_the_whole_product(shop):
    Stock.objects.filter(variant__sku="J-M").update(allocated=4)
    text = csv_text(
        {"Handle": "jumper", "Variant SKU": "J-S", "Variant Price": "70.00", "Variant Inventory Qty": "3"},
        {"Handle": "jumper", "Variant SKU": "J-M", "Variant Price": "70.00", "Variant Inventory Qty": "1"},
    )
    report = run(text, dry_run=False)
    assert report.outcomes[0].action == REFUSE
    assert "Row 3: J-M: 4 units are held by orders awaiting payment" in report.outcomes[0].reasons[0]
    assert Variant.objects.get(sku="J-S").price == 6500  # the product's first row was not kept either


def test_a_file_with_a_byte_order_mark_or_from_windows_and_one_without_its_columns(shop):
    text = csv_text(GOOD[2])
    assert read(decode(("\ufeff" + text).encode("utf-8")))[0][0].handle == "camp-mug"
    assert read(decode(text.replace("Camp", "Café").encode("cp1252")))[0][0].fields["Title"] == "Café Mug"
    products, problems = read("Name,Price\nMug,1.00\n")
    assert products == [] and problems == [
        (1, "The file has no Handle, Variant Price, Variant SKU column (the first row names the columns).")
    ]


def test_the_command_says_what_it_would_do_then_does_it(shop, tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text(csv_text(*GOOD), encoding="utf-8")
    out = io.StringIO()
    call_command("catalog_import", str(path), verbosity=0, stdout=out)
    assert "Would import: 1 new, 1 changed, 0 unchanged, 0 refused." in out.getvalue()
    assert not Product.objects.filter(slug="camp-mug").exists()
    call_command("catalog_import", str(path), "--commit", verbosity=0, stdout=out)
    assert "Imported: 1 new, 1 changed, 0 unchanged, 0 refused." in out.getvalue()
    assert (
        list(catalogue_rows())[-1]["Variant SKU"] == "MUG" or Product.objects.filter(slug="camp-mug").exists()
    )
