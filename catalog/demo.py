"""The demo catalogue: deterministic, so that seeding twice gives the same shop."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from django.utils.text import slugify

# (slug, name, description, parent slug)
CATEGORIES: list[tuple[str, str, str, str | None]] = [
    ("clothing", "Clothing", "Clothes made to be worn for years, not a season.", None),
    ("t-shirts", "T-shirts & Tops", "Soft, heavyweight cotton tops.", "clothing"),
    ("knitwear", "Knitwear", "Merino, lambswool and cotton knits.", "clothing"),
    ("jackets", "Jackets & Coats", "Waterproofs, overcoats and everything between.", "clothing"),
    ("trousers", "Trousers", "Chinos, cords and hard-wearing work trousers.", "clothing"),
    ("home", "Home", "Useful things for the kitchen, the table and the bedroom.", None),
    ("kitchen", "Kitchen", "Knives, pans and tools that last a lifetime.", "home"),
    ("lighting", "Lighting", "Lamps and pendants in brass, steel and glass.", "home"),
    ("bedding", "Bedding & Textiles", "Linen and cotton for better sleep.", "home"),
    ("outdoors", "Outdoors", "Kit for camping, cycling and long days outside.", None),
    ("camping", "Camping", "Tents, sleeping bags and stoves.", "outdoors"),
    ("cycling", "Cycling", "Lights, locks and bags for the daily ride.", "outdoors"),
    ("accessories", "Accessories", "Bags, hats and the small things.", None),
    ("bags", "Bags", "Backpacks, totes and weekenders.", "accessories"),
    ("hats-scarves", "Hats & Scarves", "Warm heads and necks.", "accessories"),
]

SIZES = ["XS", "S", "M", "L", "XL"]
WAISTS = ["28", "30", "32", "34", "36"]
BED_SIZES = ["Single", "Double", "King"]
COLOURS = {
    "Navy": (31, 52, 89),
    "Forest": (43, 87, 64),
    "Rust": (166, 78, 46),
    "Oatmeal": (214, 200, 170),
    "Charcoal": (64, 66, 70),
    "Sky": (120, 170, 205),
    "Mustard": (206, 160, 52),
    "Plum": (110, 56, 88),
    "Cream": (238, 230, 210),
    "Olive": (112, 116, 62),
}
FINISHES = {"Brass": (181, 148, 80), "Black": (40, 40, 40), "White": (236, 236, 232)}


@dataclass(frozen=True)
class Leaf:
    slug: str
    nouns: list[str]
    price_range: tuple[int, int]  # minor units
    scheme: str  # how variants are made
    materials: list[str]


LEAVES = [
    Leaf(
        "t-shirts",
        ["T-Shirt", "Henley", "Polo Shirt", "Long-Sleeve Tee"],
        (1800, 3800),
        "size-colour",
        ["organic cotton", "slub cotton", "cotton jersey"],
    ),
    Leaf(
        "knitwear",
        ["Jumper", "Cardigan", "Roll-Neck", "Crew-Neck Sweater"],
        (4500, 9800),
        "size-colour",
        ["merino wool", "lambswool", "cotton"],
    ),
    Leaf(
        "jackets",
        ["Rain Jacket", "Field Jacket", "Puffer Jacket", "Wool Overcoat", "Gilet"],
        (7500, 24000),
        "size-colour",
        ["waxed cotton", "recycled nylon", "wool blend"],
    ),
    Leaf(
        "trousers",
        ["Chinos", "Cord Trousers", "Work Trousers", "Joggers"],
        (3800, 8500),
        "waist-colour",
        ["cotton twill", "needlecord", "canvas"],
    ),
    Leaf(
        "kitchen",
        ["Chef's Knife", "Cast-Iron Skillet", "Enamel Mug", "Chopping Board", "Coffee Grinder"],
        (1200, 9500),
        "colour",
        ["carbon steel", "cast iron", "enamelled steel", "oak"],
    ),
    Leaf(
        "lighting",
        ["Table Lamp", "Pendant Light", "Reading Lamp", "Lantern"],
        (3500, 18000),
        "finish",
        ["spun brass", "powder-coated steel", "blown glass"],
    ),
    Leaf(
        "bedding",
        ["Duvet Cover", "Linen Sheet Set", "Throw", "Cushion Cover"],
        (2500, 14000),
        "bed-colour",
        ["washed linen", "percale cotton", "brushed cotton"],
    ),
    Leaf(
        "camping",
        ["Tent", "Sleeping Bag", "Camping Stove", "Headtorch", "Water Bottle"],
        (1500, 32000),
        "colour",
        ["ripstop nylon", "stainless steel", "recycled polyester"],
    ),
    Leaf(
        "cycling",
        ["Bike Light Set", "Cycling Gloves", "Saddle Bag", "Bike Lock"],
        (1500, 7500),
        "colour",
        ["aluminium", "hardened steel", "waxed canvas"],
    ),
    Leaf(
        "bags",
        ["Backpack", "Tote Bag", "Weekender", "Messenger Bag"],
        (2500, 16000),
        "colour",
        ["waxed canvas", "recycled nylon", "leather"],
    ),
    Leaf(
        "hats-scarves",
        ["Beanie", "Scarf", "Cap", "Bucket Hat"],
        (1500, 4500),
        "colour",
        ["merino wool", "lambswool", "cotton canvas"],
    ),
]

PREFIXES = [
    "Ashby",
    "Brora",
    "Calder",
    "Dunmore",
    "Eskdale",
    "Fenwick",
    "Glencoe",
    "Harlow",
    "Islay",
    "Jura",
    "Kendal",
    "Lomond",
    "Morvern",
    "Norwood",
    "Orkney",
    "Penrith",
    "Quarry",
    "Rydal",
    "Skye",
    "Tarn",
    "Ullswater",
    "Wharfe",
    "Yarrow",
    "Alston",
    "Bowness",
    "Coniston",
    "Derwent",
    "Ennerdale",
    "Grasmere",
    "Hawes",
]
ADJECTIVES = [
    "Everyday",
    "Classic",
    "Heritage",
    "Lightweight",
    "Heavyweight",
    "Organic",
    "Waxed",
    "Recycled",
    "Alpine",
    "Coastal",
    "Harbour",
    "Trail",
    "Studio",
    "Weekend",
    "Workwear",
]


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
    code = f"NW{index:06d}"

    def stock() -> int:
        roll = rng.random()
        if roll < 0.08:
            return 0
        if roll < 0.2:
            return rng.randint(1, 4)
        return rng.randint(5, 60)

    variants: list[VariantSpec] = []
    if leaf.scheme in ("size-colour", "waist-colour", "bed-colour"):
        sizes = {"size-colour": SIZES, "waist-colour": WAISTS, "bed-colour": BED_SIZES}[leaf.scheme]
        option = "waist" if leaf.scheme == "waist-colour" else "size"
        for colour in colours:
            for position, size in enumerate(sizes):
                price = base_price
                if leaf.scheme == "bed-colour":
                    price = base_price + position * (base_price // 5 // 100 * 100)
                variants.append(
                    VariantSpec(
                        sku=f"{code}-{colour[:3].upper()}-{size.upper()[:6]}",
                        options={option: size, "colour": colour},
                        price=price,
                        on_hand=stock(),
                        image_key=(noun, colour),
                    )
                )
    elif leaf.scheme == "finish":
        for finish in rng.sample(list(FINISHES), k=rng.choice([1, 2, 3])):
            variants.append(
                VariantSpec(
                    sku=f"{code}-{finish[:3].upper()}",
                    options={"finish": finish},
                    price=base_price,
                    on_hand=stock(),
                    image_key=(noun, finish),
                )
            )
    else:
        for colour in colours:
            variants.append(
                VariantSpec(
                    sku=f"{code}-{colour[:3].upper()}",
                    options={"colour": colour},
                    price=base_price,
                    on_hand=stock(),
                    image_key=(noun, colour),
                )
            )
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
        variants=variants,
    )


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


# (code, name, description, price in minor units, free over, position)
SHIPPING_METHODS = [
    ("standard", "Standard delivery", "3–5 working days.", 495, 7500, 0),
    ("express", "Express delivery", "Next working day if ordered by 2pm.", 995, None, 1),
]
# (country, name, rate)
TAX_RATES = [
    ("GB", "VAT", "0.2000"),
    ("IE", "VAT", "0.2300"),
    ("FR", "TVA", "0.2000"),
    ("DE", "MwSt", "0.1900"),
    ("NL", "BTW", "0.2100"),
    ("US", "Sales tax", "0.0000"),
]
