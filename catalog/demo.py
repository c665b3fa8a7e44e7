"""The demo catalogue: deterministic, so that seeding twice gives the same shop.

Its data (categories, product types, names, colours, prices) is in demo_data.toml;
this module draws the products from it.
"""

from __future__ import annotations

import io
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.text import slugify

DATA = tomllib.loads(Path(__file__).with_name("demo_data.toml").read_text(encoding="utf-8"))
CATEGORIES: list[dict] = DATA["categories"]
ZONES: list[dict] = DATA["zones"]
TAX_RATES: dict[str, dict[str, str]] = DATA["tax_rates"]
PROMOTIONS: list[dict] = DATA["promotions"]
COLOURS = {name: tuple(rgb) for name, rgb in DATA["colours"].items()}
FINISHES = {name: tuple(rgb) for name, rgb in DATA["finishes"].items()}
SIZED_SCHEMES: dict[str, dict] = DATA["sized_schemes"]
PREFIXES: list[str] = DATA["names"]["prefixes"]
ADJECTIVES: list[str] = DATA["names"]["adjectives"]


@dataclass(frozen=True)
class Leaf:
    slug: str
    nouns: list[str]
    price_range: list[int]  # minor units, low and high
    scheme: str  # how variants are made
    materials: list[str]
    grams: int
    zero_rated: list[str] = field(default_factory=list)


LEAVES = [Leaf(**leaf) for leaf in DATA["leaves"]]


@dataclass(frozen=True)
class VariantSpec:
    sku: str
    options: dict[str, str]
    price: int
    on_hand: int
    image_key: tuple[str, str]  # (noun, colour or finish)


@dataclass(frozen=True)
class ProductSpec:
    index: int
    category_slug: str
    title: str
    base_slug: str
    description: str
    is_featured: bool
    variants: list[VariantSpec]
    tax_class: str
    grams: int


def product_spec(index: int) -> ProductSpec:
    """Return the demo product number `index`; the same index always gives the same product."""
    rng = random.Random(index * 7919 + 17)  # noqa: S311 - demo data, deterministic on purpose
    leaf = LEAVES[index % len(LEAVES)]
    noun = rng.choice(leaf.nouns)
    adjective = rng.choice(ADJECTIVES)
    prefix = rng.choice(PREFIXES)
    material = rng.choice(leaf.materials)
    title = f"{prefix} {adjective} {noun}"
    low, high = leaf.price_range
    base_price = (rng.randrange(low, high) // 100) * 100 + 99 - 100 if high > low else low
    base_price = max(base_price, 499)
    colours = rng.sample(list(COLOURS), k=rng.choice([1, 2, 3]))
    description = (
        f"The {title} is made from {material} and built for everyday use. "
        f"{adjective} in spirit and practical in detail, it is designed in Britain and made by "
        f"small workshops we visit every year.\n\n"
        f"Material: {material}. Care: see the label; repairable, and covered by our two-year guarantee."
    )
    return ProductSpec(
        index=index,
        category_slug=leaf.slug,
        title=title,
        base_slug=slugify(title),
        description=description,
        is_featured=index % 15 == 0,
        tax_class="zero" if noun in leaf.zero_rated else "standard",
        grams=leaf.grams,
        variants=_variant_specs(
            rng, leaf=leaf, code=f"NW{index:06d}", noun=noun, colours=colours, price=base_price
        ),
    )


def _variant_specs(
    rng: random.Random, *, leaf: Leaf, code: str, noun: str, colours: list[str], price: int
) -> list[VariantSpec]:
    """Return a product's variants as its leaf's scheme makes them, each with its stock drawn in turn."""
    if leaf.scheme in SIZED_SCHEMES:
        option, sizes = SIZED_SCHEMES[leaf.scheme]["option"], SIZED_SCHEMES[leaf.scheme]["values"]
        # Bigger beds cost a fifth more a size, in whole units.
        step = price // 5 // 100 * 100 if leaf.scheme == "bed-colour" else 0
        rows = [
            (colour, {option: size, "colour": colour}, f"-{size.upper()[:6]}", price + position * step)
            for colour in colours
            for position, size in enumerate(sizes)
        ]
    elif leaf.scheme == "finish":
        finishes = rng.sample(list(FINISHES), k=rng.choice([1, 2, 3]))
        rows = [(finish, {"finish": finish}, "", price) for finish in finishes]
    else:
        rows = [(colour, {"colour": colour}, "", price) for colour in colours]
    return [
        VariantSpec(
            sku=f"{code}-{shade[:3].upper()}{size_suffix}",
            options=options,
            price=variant_price,
            on_hand=_stock(rng),
            image_key=(noun, shade),
        )
        for shade, options, size_suffix, variant_price in rows
    ]


def _stock(rng: random.Random) -> int:
    """Return a variant's stock: out of stock now and then, sometimes low, mostly plenty."""
    roll = rng.random()
    if roll < 0.08:
        return 0
    if roll < 0.2:
        return rng.randint(1, 4)
    return rng.randint(5, 60)


def demo_image(noun: str, shade: str) -> bytes:
    """Return a JPEG picture for a product type in a colour, drawn locally with Pillow."""
    from PIL import Image, ImageDraw, ImageFont

    colour = COLOURS.get(shade) or FINISHES.get(shade) or (120, 120, 120)
    size = 480
    image = Image.new("RGB", (size, size), (246, 244, 240))
    draw = ImageDraw.Draw(image)
    # Soft vertical gradient from a tint of the colour to near white.
    for y in range(size):
        mix = y / size
        tint = tuple(int(c * (0.35 - 0.25 * mix) + 255 * (0.65 + 0.25 * mix)) for c in colour)
        draw.line([(0, y), (size, y)], fill=tint)
    draw.rounded_rectangle([110, 90, 370, 350], radius=48, fill=colour)
    font = ImageFont.load_default(size=34)
    label = noun.upper()
    width = draw.textlength(label, font=font)
    draw.text(((size - width) / 2, 380), label, fill=(40, 44, 48), font=font)
    small = ImageFont.load_default(size=22)
    width = draw.textlength(shade, font=small)
    draw.text(((size - width) / 2, 425), shade, fill=(95, 105, 112), font=small)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=82, optimize=True)
    return buffer.getvalue()


def image_name(noun: str, shade: str) -> str:
    return f"products/demo-{slugify(noun)}-{slugify(shade)}.jpg"
