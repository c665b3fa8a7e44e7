"""Pictures staff add in the product editor: checked by their content, never their name; limited
in size and pixels; resized to the widths the pages use and given as a srcset; tied to a colour;
a batch with one bad picture keeps none."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.roles import CATALOGUE, ORDERS
from catalog.image_names import rendition_name
from catalog.models import OptionAxis, OptionValue, ProductImage, ProductType
from catalog.services import product_options_sync
from tests.factories import CategoryFactory, ProductFactory, StockFactory, UserFactory, VariantFactory

pytestmark = pytest.mark.django_db


def picture(name="photo.png", *, size=(800, 600), format="PNG", mode="RGB") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new(mode, size, "navy").save(out, format=format)
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


@pytest.fixture
def editor(client):
    client.force_login(UserFactory(is_staff=True, roles=[CATALOGUE]))
    return client


@pytest.fixture
def tee():
    product = ProductFactory(title="Tee", slug="tee", category=CategoryFactory(), is_active=True)
    for colour in ("Navy", "Rust"):
        StockFactory(variant=VariantFactory(product=product, options={"colour": colour}))
    product_options_sync(product_id=product.pk)
    return product


def upload(client, product, *files):
    return client.post(f"/dashboard/products/{product.pk}/images/", {"images": list(files)}, follow=True)


def test_a_picture_is_kept_under_our_name_with_its_resized_copies_and_shown_with_a_srcset(editor, tee):
    response = upload(editor, tee, picture("../../etc/passwd.png"))

    assert "1 picture added." in response.content.decode()
    image = ProductImage.objects.get()
    assert image.image.name.startswith("products/") and "passwd" not in image.image.name
    assert image.image.name.endswith(".png") and image.widths == [300, 600]  # not wider than the original
    for width in image.widths:
        with default_storage.open(rendition_name(image.image.name, width)) as copy:
            assert Image.open(copy).format == "WEBP" and Image.open(copy).width == width
    page = editor.get("/products/tee/").content.decode()
    assert f"{rendition_name(image.image.name, 300).split('/')[-1]} 300w" in page and 'sizes="' in page
    assert "-w300.webp 300w" in editor.get(tee.category.get_absolute_url()).content.decode()  # the card
    assert tee.events.first().message == "Added 1 pictures."


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (
            SimpleUploadedFile("shell.png", b"<script>alert(1)</script>", content_type="image/png"),
            "this is not a picture we can read",
        ),
        (
            SimpleUploadedFile("photo.jpg", b"\xff\xd8\xff\xe0" + b"0" * 64, content_type="image/jpeg"),
            "this is not a picture we can read",
        ),
        (picture("anim.gif", format="GIF", mode="P"), "send a JPEG, PNG or WebP picture."),
    ],
    ids=["script-called-png", "broken-jpeg", "gif"],
)
def test_what_is_not_a_picture_we_take_is_refused_by_its_content(editor, tee, file, message):
    response = upload(editor, tee, file)
    assert message in response.content.decode() and "No picture was added." in response.content.decode()
    assert not ProductImage.objects.exists()


def test_too_large_or_too_many_pixels_is_refused_and_a_batch_keeps_none(editor, tee, settings):
    settings.IMAGE_MAX_PIXELS = 1_000_000
    bomb = upload(editor, tee, picture("bomb.png", size=(2000, 2000), mode="1"))
    assert "bomb.png: that picture has too many pixels to take." in bomb.content.decode()
    settings.IMAGE_UPLOAD_MAX_BYTES = 2048
    big = upload(editor, tee, picture("small.png", size=(10, 10)), picture("big.png", size=(600, 600)))
    assert "big.png: a picture can be at most 2 KB." in big.content.decode()
    assert not ProductImage.objects.exists()  # the small one was not kept either


def test_a_picture_is_tied_to_a_colour_placed_and_removed(editor, tee, django_capture_on_commit_callbacks):
    upload(editor, tee, picture())
    image = ProductImage.objects.get()
    rust = OptionValue.objects.get(
        value="Rust", axis__product_type=tee.__class__.objects.get(pk=tee.pk).product_type
    )
    url = f"/dashboard/products/{tee.pk}/images/{image.pk}/"
    saved = editor.post(url, {"alt_text": " Tee in Rust ", "colour": rust.pk, "position": "2"}, follow=True)
    assert "Picture saved." in saved.content.decode()
    image.refresh_from_db()
    assert (image.alt_text, image.colour_id, image.position) == ("Tee in Rust", rust.pk, 2)

    elsewhere = ProductType.objects.create(name="Other", slug="other")
    axis = OptionAxis.objects.create(product_type=elsewhere, name="colour", is_colour=True)
    other = OptionValue.objects.create(axis=axis, value="Teal")
    refused = editor.post(url, {"alt_text": "x", "colour": other.pk, "position": "0"}, follow=True)
    assert "Choose a colour of this product&#x27;s type." in refused.content.decode()
    assert (
        editor.post(url, {"alt_text": "x", "colour": "abc", "position": "0"}, follow=True).status_code == 200
    )
    image.refresh_from_db()
    assert image.colour_id == rust.pk

    name = image.image.name
    with django_capture_on_commit_callbacks(execute=True):  # its files go once the row has gone
        removed = editor.post(url, {"delete": "1"}, follow=True)
    assert "Picture removed." in removed.content.decode()
    assert not ProductImage.objects.exists() and not default_storage.exists(name)
    assert editor.post(url, {"delete": "1"}).status_code == 404


def test_only_catalogue_editors_may_add_pictures(client, tee):
    client.force_login(UserFactory(is_staff=True, roles=[ORDERS]))
    assert client.post(f"/dashboard/products/{tee.pk}/images/", {"images": [picture()]}).status_code == 403
    assert not ProductImage.objects.exists()
