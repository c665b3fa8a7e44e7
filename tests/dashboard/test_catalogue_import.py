"""Importing a catalogue from the dashboard: the file is checked in the background (its progress
and then what it would do, row by row), imported only when staff say so, and exported back."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.roles import CATALOGUE, ORDERS
from catalog.csv_format import COLUMNS
from catalog.models import ImportJob, Product
from tests.factories import CategoryFactory, UserFactory
from tests.helpers import run_due_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def csv_file(*rows: dict, name="catalogue.csv", encoding="utf-8") -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({column: row.get(column, "") for column in COLUMNS} for row in rows)
    return SimpleUploadedFile(name, out.getvalue().encode(encoding), content_type="text/csv")


MUG = {
    "Handle": "camp-mug",
    "Title": "Camp Mug",
    "Category": "kitchen",
    "Variant SKU": "MUG",
    "Variant Price": "12.50",
}
BAD = {"Handle": "odd", "Title": "Odd", "Category": "kitchen", "Variant SKU": "ODD", "Variant Price": "ten"}


@pytest.fixture
def editor(client):
    CategoryFactory(name="Kitchen", slug="kitchen")
    client.force_login(UserFactory(is_staff=True, roles=[CATALOGUE]))
    return client


def test_a_file_is_checked_then_imported_when_staff_say_so(editor):
    response = editor.post("/dashboard/products/import/", {"file": csv_file(MUG, BAD)})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/dashboard/products/import/{job.pk}/"
    waiting = editor.get(response["Location"]).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in waiting and "Checking" in waiting

    run_due_tasks()
    checked = " ".join(editor.get(f"/dashboard/products/import/{job.pk}/").content.decode().split())
    assert "It would import: 1 new, 0 changed, 0 unchanged, <strong>1 refused</strong>." in checked
    assert "Variant Price “ten” is not an amount of money (e.g. 24.99)." in checked and ">3</td>" in checked
    assert not Product.objects.exists()

    assert editor.post(f"/dashboard/products/import/{job.pk}/commit/").status_code == 302
    again = editor.post(f"/dashboard/products/import/{job.pk}/commit/", follow=True)  # a second press
    assert "being imported already" in again.content.decode()
    run_due_tasks()
    done = " ".join(editor.get(f"/dashboard/products/import/{job.pk}/").content.decode().split())
    assert "Imported: 1 new, 0 changed, 0 unchanged, <strong>1 refused</strong>." in done
    assert list(Product.objects.values_list("slug", flat=True)) == ["camp-mug"]

    exported = editor.get("/dashboard/products/export.csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [(row["Handle"], row["Variant SKU"], row["Variant Price"]) for row in rows] == [
        ("camp-mug", "MUG", "12.50")
    ]


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (None, "Choose a CSV file to import."),
        (
            SimpleUploadedFile("x.csv", b"Name,Price\nMug,1\n"),
            "The file has no Handle, Variant Price, Variant SKU column",
        ),
        (SimpleUploadedFile("x.csv", b"\x81\x8d\x8f\x90\x9d"), "That file is not text we can read"),
    ],
    ids=["no-file", "not-our-columns", "not-text"],
)
def test_a_file_that_cannot_be_read_is_refused_at_once(editor, upload, message):
    response = editor.post("/dashboard/products/import/", {"file": upload} if upload else {})
    assert response.status_code == 400 and message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_only_catalogue_editors_may_import_or_export(client):
    client.force_login(UserFactory(is_staff=True, roles=[ORDERS]))
    assert client.post("/dashboard/products/import/", {"file": csv_file(MUG)}).status_code == 403
    assert client.get("/dashboard/products/export.csv").status_code == 403
    assert not ImportJob.objects.exists()
