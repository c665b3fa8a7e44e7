"""Where a product picture's resized copies are kept, and the srcset the pages give for them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from django.core.files.storage import default_storage


def rendition_name(name: str, width: int) -> str:
    """Return where the picture stored at `name` is kept `width` pixels wide."""
    path = PurePosixPath(name)
    return str(path.with_name(f"{path.stem}-w{width}.webp"))


def srcset(name: str, widths: Sequence[int]) -> str:
    """Return the srcset of a picture's renditions ("" when it has none)."""
    return ", ".join(f"{default_storage.url(rendition_name(name, width))} {width}w" for width in widths)
