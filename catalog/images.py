"""Product pictures uploaded by staff: checked by their content (never their name), limited in
size, resized to the widths the pages use (WebP beside the original) and named by us.

A picture is read with Pillow: anything it cannot open as a JPEG, PNG or WebP is refused, as is one
over IMAGE_UPLOAD_MAX_BYTES or with more pixels than IMAGE_MAX_PIXELS (a "decompression bomb").
"""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Sequence

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from PIL import Image, UnidentifiedImageError

from catalog.image_names import rendition_name
from catalog.models import ProductEvent, ProductImage
from catalog.selectors import catalog_cache_clear

logger = logging.getLogger(__name__)

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
WIDTHS = (300, 600, 1200)  # a card, the product page, the product page on a sharp screen


def _size_text(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


def _opened(upload) -> Image.Image:
    """Return the upload as a picture; raise ValidationError saying why it is not one we take."""
    if upload.size > settings.IMAGE_UPLOAD_MAX_BYTES:
        most = _size_text(settings.IMAGE_UPLOAD_MAX_BYTES)
        raise ValidationError(f"{upload.name}: a picture can be at most {most}.")
    try:
        with Image.open(upload) as probe:
            probe.verify()  # the file is whole and what its header says
        upload.seek(0)
        picture = Image.open(upload)
        if picture.format not in FORMATS:
            raise ValidationError(f"{upload.name}: send a JPEG, PNG or WebP picture.")
        if picture.width * picture.height > settings.IMAGE_MAX_PIXELS:
            raise ValidationError(f"{upload.name}: that picture has too many pixels to take.")
        picture.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValidationError(
            f"{upload.name}: this is not a picture we can read (JPEG, PNG or WebP)."
        ) from error
    return picture


def _store(picture: Image.Image) -> tuple[str, list[int]]:
    """Keep the picture under a name of ours and its renditions beside it; return both."""
    name = f"products/{secrets.token_hex(12)}.{FORMATS[picture.format]}"
    original = io.BytesIO()
    picture.save(original, format=picture.format)
    name = default_storage.save(name, ContentFile(original.getvalue()))
    widths = []
    for width in WIDTHS:
        if width > picture.width and widths:
            break
        resized = picture.copy()
        resized.thumbnail((min(width, picture.width), 10 * width))
        out = io.BytesIO()
        resized.convert("RGBA" if resized.mode in ("RGBA", "LA", "P") else "RGB").save(
            out, format="WEBP", quality=82
        )
        default_storage.save(rendition_name(name, width), ContentFile(out.getvalue()))
        widths.append(width)
    return name, widths


def images_add(*, product_id: int, uploads: Sequence, actor=None) -> list[ProductImage]:
    """Check every upload first, then keep them all as the product's last pictures; raise
    ValidationError naming each one refused, keeping none."""
    pictures, refused = [], []
    for upload in uploads:
        try:
            pictures.append(_opened(upload))
        except ValidationError as error:
            refused += error.messages
    if refused:
        raise ValidationError(refused)
    stored = [_store(picture) for picture in pictures]
    with transaction.atomic():
        last = ProductImage.objects.filter(product_id=product_id).aggregate(last=Max("position"))["last"]
        start = 0 if last is None else last + 1
        made = [
            ProductImage.objects.create(
                product_id=product_id, image=name, widths=widths, position=start + index
            )
            for index, (name, widths) in enumerate(stored)
        ]
        ProductEvent.objects.create(
            product_id=product_id, actor_id=getattr(actor, "pk", None), message=f"Added {len(made)} pictures."
        )
    catalog_cache_clear()
    return made


aimages_add = sync_to_async(images_add)


def image_update(
    *, image_id: int, product_id: int, alt_text: str, colour_id: int | None, position: int, actor=None
):
    """Change a picture's alt text, colour and place; raise ProductImage.DoesNotExist when it is
    not the product's, ValidationError for a colour that is not one of its type's."""
    with transaction.atomic():
        image = (
            ProductImage.objects.select_for_update()
            .select_related("product")
            .get(pk=image_id, product_id=product_id)
        )
        if (
            colour_id is not None
            and not image.product.product_type.axes.filter(values__pk=colour_id).exists()
        ):
            raise ValidationError("Choose a colour of this product's type.")
        image.alt_text, image.colour_id, image.position = alt_text.strip()[:200], colour_id, position
        image.save(update_fields=["alt_text", "colour", "position"])
        ProductEvent.objects.create(
            product_id=product_id,
            actor_id=getattr(actor, "pk", None),
            message=f"Changed a picture: “{image.alt_text}”.",
        )
    catalog_cache_clear()
    return image


def image_delete(*, image_id: int, product_id: int, actor=None) -> None:
    """Remove the product's picture and its files. Raises ProductImage.DoesNotExist."""
    with transaction.atomic():
        image = ProductImage.objects.select_for_update().get(pk=image_id, product_id=product_id)
        name, widths = image.image.name, list(image.widths)
        image.delete()
        ProductEvent.objects.create(
            product_id=product_id, actor_id=getattr(actor, "pk", None), message="Removed a picture."
        )
        transaction.on_commit(
            lambda: [default_storage.delete(n) for n in [name, *(rendition_name(name, w) for w in widths)]]
        )
    catalog_cache_clear()


aimage_update = sync_to_async(image_update)
aimage_delete = sync_to_async(image_delete)
